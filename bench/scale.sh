#!/usr/bin/env bash
# Scale with data (`BENCH_SCALE=1 make bench`, or bench/scale.sh): the same
# operations over HTTP against a database of 10,000 appointments and one of
# 10,000,000, side by side in one run on one PostgreSQL server: booking,
# availability and the dashboard's list, each as the rate at the large size
# over the rate at the small one (medians of BENCH_RUNS interleaved runs of
# BENCH_SECONDS each, after a warm-up of both); a contact with history
# erased (in a transaction rolled back) at both sizes; the plans of the hot
# statements at the large size into bench/EXPLAIN-10M.md. Writes the
# "Scale with data" section of bench/RESULTS.md.
#
# The databases (bench/scale_data.sql; the 10 M one took 11 minutes on this
# shared two-core machine, 30 when it was busy, and takes 14 GB) are kept in
# .bookd/scale/ between runs, and made again only when the generator or its
# parameters changed, or the data is older than BENCH_SCALE_MAX_AGE_DAYS (14:
# about 80 % of the appointments lie before the day it was made). New migrations and function files are applied to
# them at every run; what a run books (in 2039 and later, in organizations
# with no webhook endpoint) is deleted at the start of the next.
#
# BENCH_SCALE_SIZES   "10000 10000000" (the small one first)
# BENCH_SCALE_ORGS    1000 organizations at every size
# BENCH_SCALE_REBUILD 1: make the databases again
# BUILD               the build directory whose bookd is measured (build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/pglib.sh
source bench/procs.sh # stop

seconds=${BENCH_SECONDS:-5}
runs=${BENCH_RUNS:-3}
read -r -a sizes <<<"${BENCH_SCALE_SIZES:-10000 10000000}"
orgs=${BENCH_SCALE_ORGS:-1000}
max_age=${BENCH_SCALE_MAX_AGE_DAYS:-14}
bookd_bin=$root/${BUILD:-build}/bookd
bin=$(pg_bindir)
pgdir=$root/.bookd/scale
work=$(mktemp -d)
conns=16
day=2039-06-06 # a Monday after every generated appointment: the busy day
week_to=2039-06-13
declare -A pids=() bases=()

cleanup() {
  local p
  for p in "${pids[@]}"; do stop "$p"; done
  pg_stop "$pgdir" || true
  rm -rf "$work"
}
trap cleanup EXIT

label() { # 10000 -> 10k, 10000000 -> 10m (database names)
  local n=$1
  if (( n % 1000000 == 0 )); then echo "$(( n / 1000000 ))m"
  elif (( n % 1000 == 0 )); then echo "$(( n / 1000 ))k"
  else echo "$n"; fi
}
owner_url() { pg_conninfo "$pgdir" | sed "s/dbname=[^ ]*/dbname=$1/"; }
# bookd serves as the least-privileged role when the checkout has one.
app_url() {
  if declare -F pg_app_conninfo >/dev/null; then
    pg_app_conninfo "$pgdir" | sed "s/dbname=[^ ]*/dbname=$1/"
  else
    owner_url "$1"
  fi
}
psql_db() { local db=$1; shift; "$bin/psql" -X -q -t -A -v ON_ERROR_STOP=1 "$(owner_url "$db")" "$@"; }
psql_pg() { "$bin/psql" -X -q -t -A -v ON_ERROR_STOP=1 "$(owner_url postgres)" "$@"; }
restart_pg() { pg_stop "$pgdir"; pg_start "$pgdir" durable; }
log() { echo "scale: $*" >&2; }

export BOOKD_SECRET_KEY=${BOOKD_SECRET_KEY:-$(printf '5eed%.0s' {1..16})}
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# start_bookd DB: bookd as make run starts it (its worker included), rate
# limits out of the way; sets pids[DB] and bases[DB].
start_bookd() {
  local db=$1 base=
  DATABASE_URL=$(app_url "$db") BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN=$token \
    BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 "$bookd_bin" serve 2>"$work/bookd-$db.log" &
  pids[$db]=$!
  for _ in $(seq 100); do
    base=$(grep -os 'http://127.0.0.1:[0-9]*' "$work/bookd-$db.log" | head -n 1 || true)
    [[ -n "$base" ]] && break
    sleep 0.1
  done
  [[ -n "$base" ]] || { log "bookd did not start on $db"; cat "$work/bookd-$db.log" >&2; exit 1; }
  bases[$db]=$base
}
stop_bookd() { stop "${pids[$1]}"; unset "pids[$1]"; }

pg_start "$pgdir" durable
# A generation cut short may have left its settings behind.
if [[ -n "$(psql_pg -c "SELECT 1 FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf' LIMIT 1")" ]]; then
  psql_pg -c "ALTER SYSTEM RESET ALL"
  restart_pg
fi

# The databases ----------------------------------------------------------------
# The generator as it is now (psql reads a file as it goes, and the 10 M
# database takes a while); comments and progress lines do not count.
cp bench/scale_data.sql "$work/scale_data.sql"
gen_key=$( (grep -vE '^\s*--|^\\q?echo' "$work/scale_data.sql"; echo "orgs=$orgs") | sha256sum | cut -c1-16)
now_s=$(date -u +%s)
declare -A dbs=() gen_note=()
generate_settings_on=false
for n in "${sizes[@]}"; do
  db=bench_$(label "$n")
  dbs[$n]=$db
  note=$(psql_pg -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$db'")
  made=$(sed -n 's/.* made=\([0-9]*\).*/\1/p' <<<"$note")
  if [[ -z "${BENCH_SCALE_REBUILD:-}" && "$note" == "scale key=$gen_key n=$n "* ]] &&
     (( now_s - ${made:-0} < max_age * 86400 )); then
    log "$db: kept from $(date -u -d "@$made" +%F) ($note)"
    gen_note[$n]=$note
    continue
  fi
  if [[ $generate_settings_on == false ]]; then
    # Loading only: a larger cache and few checkpoints, no autovacuum in the
    # middle, and old WAL removed rather than kept for reuse (else some
    # 10 GB of it stays behind). Reset (to make run's and make bench's
    # settings) before anything is measured.
    psql_pg -c "ALTER SYSTEM SET shared_buffers = '4GB'" -c "ALTER SYSTEM SET max_wal_size = '16GB'" \
      -c "ALTER SYSTEM SET checkpoint_timeout = '1h'" -c "ALTER SYSTEM SET autovacuum = off" \
      -c "ALTER SYSTEM SET wal_recycle = off" -c "ALTER SYSTEM SET wal_init_zero = off"
    restart_pg
    generate_settings_on=true
  fi
  log "$db: generating $n appointments over $orgs organizations"
  started=$(date +%s)
  psql_pg -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  DATABASE_URL=$(owner_url "$db") "$bookd_bin" migrate 2>"$work/migrate.log" ||
    { cat "$work/migrate.log" >&2; exit 1; }
  anchor=$(date -u -d tomorrow +%F)
  gen() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 -v n="$n" -v orgs="$orgs" -v anchor="$anchor" \
            "$(owner_url "$db")" -f "$work/scale_data.sql" "$@"; }
  gen -v phase=setup >&2
  # Webhook endpoints (their secrets sealed by bookd) for the organizations
  # with o % 10 = 5, whose events get deliveries.
  start_bookd "$db"
  while read -r key o; do
    curl -sf -o /dev/null -X POST "${bases[$db]}/api/webhook-endpoints" \
      -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d "{\"url\":\"https://hooks.example.com/scale/$o\",\"events\":[\"appointment.booked\",\"appointment.cancelled\",\"appointment.rescheduled\"]}"
  done < <(psql_db "$db" -F ' ' -c "SELECT 'bk_admin_' || left(encode(sha256(convert_to('scale-key-admin' || o, 'UTF8')), 'hex'), 43), o
                                      FROM generate_series(5, $orgs, 10) o")
  stop_bookd "$db"
  gen -v phase=batches -v part=0 -v parts=2 >&2 &
  part0=$!
  gen -v phase=batches -v part=1 -v parts=2 >&2
  wait "$part0"
  gen -v phase=finish >&2
  took=$(( $(date +%s) - started ))
  gen_note[$n]="scale key=$gen_key n=$n orgs=$orgs anchor=$anchor made=$(date +%s) seconds=$took"
  psql_pg -c "COMMENT ON DATABASE $db IS '${gen_note[$n]}'"
  log "$db: made in $took s"
done
if [[ $generate_settings_on == true ]]; then
  psql_pg -c "ALTER SYSTEM RESET ALL"
  restart_pg
fi

[[ -n "${BENCH_SCALE_GENERATE_ONLY:-}" ]] && exit 0

# The run ----------------------------------------------------------------------
# Bench organizations: the first 100 in UTC (o % 3 = 1) with no webhook
# endpoint (o % 10 <> 5), each with its heaviest contact; the same ids at
# every size (bench/scale_data.sql).
bench_orgs_sql="SELECT o, 'bk_admin_' || left(encode(sha256(convert_to('scale-key-admin' || o, 'UTF8')), 'hex'), 43),
                       md5('contact:' || (o * 10000000::bigint))::uuid, md5('prov:' || (o * 16))::uuid,
                       md5('org:' || o)::uuid
                  FROM generate_series(1, $orgs) o WHERE o % 3 = 1 AND o % 10 <> 5 ORDER BY o LIMIT 100"
# forget DB [FROM]: deletes what runs booked into the bench organizations
# (from FROM on: 2039-01-01, the busy day included, or 2040-01-01, the
# booking runs only) with its audit entries (its events among them), and vacuums.
forget() {
  psql_db "$1" >/dev/null <<SQL
WITH orgs AS (SELECT org FROM (${bench_orgs_sql}) b (o, k, c, p, org)),
     gone AS (DELETE FROM appointments WHERE org_id IN (SELECT org FROM orgs)
                AND scheduled_at >= '${2:-2039-01-01}' RETURNING id, org_id)
DELETE FROM audit_logs l USING gone WHERE l.org_id = gone.org_id AND l.entity_id = gone.id;
VACUUM appointments, audit_logs;
SQL
}

for n in "${sizes[@]}"; do
  db=${dbs[$n]}
  DATABASE_URL=$(owner_url "$db") "$bookd_bin" migrate 2>"$work/migrate.log" ||
    { cat "$work/migrate.log" >&2; exit 1; }
  forget "$db"
done
psql_db "${dbs[${sizes[0]}]}" -F ' ' -c "$bench_orgs_sql" >"$work/bench_orgs.txt"
awk '{print $2, $3}' "$work/bench_orgs.txt" >"$work/orgs.txt"
read -r _ first_key first_contact first_provider _ <"$work/bench_orgs.txt"
list_query="from=${day}T00:00:00Z&to=${week_to}T00:00:00Z&providerId=$first_provider&limit=500"

for n in "${sizes[@]}"; do
  db=${dbs[$n]}
  start_bookd "$db"
  # The busy day: 30 appointments of 15 minutes, as make bench's.
  for i in $(seq 0 29); do
    at=$(date -u -d "$day 09:00 UTC + $((i * 15)) minutes" +%Y-%m-%dT%H:%M:%SZ)
    curl -sf -o /dev/null -X POST "${bases[$db]}/api/appointments" \
      -H "Authorization: Bearer $first_key" -H 'Content-Type: application/json' \
      -d "{\"contactId\":\"$first_contact\",\"scheduledAt\":\"$at\",\"durationMinutes\":15}"
  done
done

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
epoch() { echo $(( $(date -u -d 2040-01-01 +%s) + $1 * 315360000 )); } # 10 years a run
# io DB: the cluster's WAL bytes and full-page images, and DB's block reads
# (from outside shared_buffers), so far.
io() {
  psql_db "$1" -F ' ' -c "SELECT wal_bytes, wal_fpi, (SELECT blks_read FROM pg_stat_database
                                                     WHERE datname = current_database())
                          FROM pg_stat_wal"
}
# wrk_op OP DB RUN [SECONDS]: one measurement at $conns connections,
# "rate p99_ms errors wal_bytes fpi reads" (rate: 2xx answers a second; the
# last three a request, while it ran).
wrk_op() {
  local op=$1 db=$2 run=$3 secs=${4:-$seconds} line script before after
  local -a env=(BENCH_THREADS=2)
  case $op in
    book) script=bench/book.lua env+=(BENCH_DATA="$work/orgs.txt" BENCH_BASE_EPOCH="$(epoch "$run")") ;;
    availability) script=bench/slots.lua env+=(BENCH_KEY="$first_key" BENCH_DATE="$day") ;;
    list) script=bench/list.lua env+=(BENCH_KEY="$first_key" BENCH_QUERY="$list_query") ;;
  esac
  before=$(io "$db")
  line=$(env "${env[@]}" setsid -w wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s "$script" \
         "${bases[$db]}" | grep '^BENCH')
  after=$(io "$db")
  awk -v r="$(field requests "$line")" -v e="$(field non2xx "$line")" -v s="$(field sockerr "$line")" \
      -v d="$(field duration_us "$line")" -v p="$(field p99_ms "$line")" \
      -v b="$before" -v a="$after" \
      'BEGIN { split(b, x, " "); split(a, y, " "); n = (r > 0 ? r : 1)
               printf "%.0f %s %d %.0f %.2f %.2f\n", (r - e) / (d / 1e6), p, e + s,
                      (y[1] - x[1]) / n, (y[2] - x[2]) / n, (y[3] - x[3]) / n }'
}

ops=(book availability list)
log "warm-up: each operation on each database for 3 s"
for n in "${sizes[@]}"; do
  for op in "${ops[@]}"; do wrk_op "$op" "${dbs[$n]}" 0 3 >/dev/null; done
  forget "${dbs[$n]}" 2040-01-01
done
declare -A rates=() p99s=() errors=() wals=() fpis=() reads=()
for n in "${sizes[@]}"; do errors[$n]=0; done
for r in $(seq "$runs"); do
  order=("${sizes[@]}")
  (( r % 2 == 0 )) && order=($(printf '%s\n' "${sizes[@]}" | tac))
  for op in "${ops[@]}"; do
    for n in "${order[@]}"; do
      log "run $r: $op on ${dbs[$n]}"
      read -r rate p99 err wal fpi rd < <(wrk_op "$op" "${dbs[$n]}" "$r")
      rates[$op,$n]+="$rate " p99s[$op,$n]+="$p99 "
      wals[$op,$n]+="$wal " fpis[$op,$n]+="$fpi " reads[$op,$n]+="$rd "
      errors[$n]=$(( ${errors[$n]} + err ))
    done
  done
  # What the run booked goes, so each size stays what it is.
  for n in "${sizes[@]}"; do forget "${dbs[$n]}" 2040-01-01; done
done

# Erasure of a contact with history: organization 5's contact with the most
# appointments that has one ahead, in a transaction rolled back, four times
# (the first is the cold one). Its events hold no copy to scrub (migration
# 0019).
contact_sql="SELECT a.contact_id, count(*), (SELECT count(*) FROM outbox_events e JOIN appointments b
                ON b.id = e.entity_id WHERE b.org_id = md5('org:5')::uuid AND b.contact_id = a.contact_id)
               FROM appointments a WHERE a.org_id = md5('org:5')::uuid GROUP BY a.contact_id
             HAVING bool_or(a.status = 'confirmed' AND a.scheduled_at > now())
              ORDER BY count(*) DESC, a.contact_id LIMIT 1"
declare -A erase_first=() erase_median=() erase_what=()
for n in "${sizes[@]}"; do
  db=${dbs[$n]}
  read -r contact appts events < <(psql_db "$db" -F ' ' -c "$contact_sql")
  call="SELECT erase_contact(md5('org:5')::uuid, '$contact', 'admin_key:scale');"
  times=$( (for _ in 1 2 3 4; do
              printf 'BEGIN;\n\\timing on\n%s\n\\timing off\nROLLBACK;\n' "$call"
            done) |
          "$bin/psql" -X -q -v ON_ERROR_STOP=1 "$(owner_url "$db")" |
          sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
  erase_first[$n]=$(sed -n 1p <<<"$times")
  erase_median[$n]=$(median $(sed -n 2,4p <<<"$times"))
  erase_what[$n]="$appts appointments, $events events"
done

# The plans at the largest size.
large=${sizes[-1]}
explain_md=bench/EXPLAIN-$(label "$large" | tr m M).md
log "plans of the hot statements on ${dbs[$large]} into $explain_md"
"$bin/psql" -X -q -v ON_ERROR_STOP=1 "$(owner_url "${dbs[$large]}")" -f bench/scale_explain.sql \
  2>"$work/explain.txt" >/dev/null
{
  echo "# The hot statements' plans at $(label "$large" | tr m M) appointments"
  echo
  echo "Written by \`BENCH_SCALE=1 make bench\` (bench/scale.sh, bench/scale_explain.sql) on"
  echo "$(date -u +%Y-%m-%d), on the database bench/scale_data.sql made (${gen_note[$large]})."
  echo "Each call goes through the real function as bookd makes it; auto_explain prints"
  echo "EXPLAIN (ANALYZE, BUFFERS) of every statement inside it. A call that writes is rolled back."
  echo "tests/sql/40_scale_plans.sql checks the same calls on 50,000 appointments: no"
  echo "sequential scan of a large table, and each on the index it depends on."
  echo
  awk -f bench/scale_explain.awk "$work/explain.txt"
} >"$explain_md"

# The section of bench/RESULTS.md.
small=${sizes[0]}
S=$(label "$small" | tr m M) L=$(label "$large" | tr m M)
{
  echo "## Scale with data"
  echo
  cmd="BENCH_SCALE=1"
  [[ $runs != 3 ]] && cmd+=" BENCH_RUNS=$runs"
  [[ $seconds != 5 ]] && cmd+=" BENCH_SECONDS=$seconds"
  echo "Measured by \`$cmd make bench\` (bench/scale.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}'), with make bench's server settings: the same"
  echo "operations over HTTP against two databases on one server, ${dbs[$small]} and ${dbs[$large]},"
  echo "one bookd each (its worker on), $conns connections, each measurement ${seconds} s, repeated"
  echo "$runs times interleaved (the two sizes back to back, their order alternating), after 3 s"
  echo "of each on each to warm them; medians. Both databases are made by bench/scale_data.sql"
  echo "over the same $orgs organizations (2-8 providers each, ~80 % of the appointments past,"
  echo "the rest ahead; confirmed, cancelled and rescheduled; a quarter as many contacts; a"
  echo "month of events, a day of idempotency keys, deliveries for a tenth of them), the larger"
  echo "being the same practices with a longer history. Bookings go to 100 of them (in 2040 and"
  echo "later, deleted after each run so that neither database grows), availability and the list"
  echo "read one day with 30 appointments (2039-06-06) of one of them, whose other days hold"
  echo "the generated history."
  echo
  echo "| | $S | $L |"
  echo "|---|---|---|"
  for t in appointments contacts audit_logs deliveries idempotency_keys; do
    echo "| $t | $(psql_db "${dbs[$small]}" -c "SELECT count(*) FROM $t") | $(psql_db "${dbs[$large]}" -c "SELECT count(*) FROM $t") |"
  done
  echo "| database size | $(psql_db postgres -c "SELECT pg_size_pretty(pg_database_size('${dbs[$small]}'))") | $(psql_db postgres -c "SELECT pg_size_pretty(pg_database_size('${dbs[$large]}'))") |"
  echo
  echo "| operation | $S /s | $L /s | $L ÷ $S (target ≥ 0.8) | run by run | p99 ms $S | p99 ms $L |"
  echo "|---|---|---|---|---|---|---|"
  for op in "${ops[@]}"; do
    a=(${rates[$op,$small]}) b=(${rates[$op,$large]})
    runs_txt=$(for i in "${!a[@]}"; do ratio "${b[$i]}" "${a[$i]}"; echo; done | paste -sd/ | sed 's#/# / #g')
    case $op in
      book) what="booking (POST /api/appointments, 100 organizations)" ;;
      availability) what="availability (GET /api/availability, the busy day)" ;;
      list) what="list (GET /api/appointments, a week of a provider, limit 500)" ;;
    esac
    echo "| $what | $(median "${a[@]}") | $(median "${b[@]}") | $(ratio "$(median "${b[@]}")" "$(median "${a[@]}")") | $runs_txt | $(median ${p99s[$op,$small]}) | $(median ${p99s[$op,$large]}) |"
  done
  echo
  echo "Non-2xx answers and socket errors: $S ${errors[$small]}, $L ${errors[$large]}."
  echo
  echo "What a request costs the database beyond the CPU, while each ran (medians): the"
  echo "cluster's WAL and its full-page images, and the blocks the database read from outside"
  echo "shared_buffers (256 MB, as make bench's; the $L database is $(psql_db postgres -c "SELECT pg_size_pretty(pg_database_size('${dbs[$large]}'))"))."
  echo
  echo "| operation | WAL bytes $S | WAL bytes $L | full-page images $S | full-page images $L | blocks read $S | blocks read $L |"
  echo "|---|---|---|---|---|---|---|"
  for op in "${ops[@]}"; do
    echo "| $op | $(median ${wals[$op,$small]}) | $(median ${wals[$op,$large]}) | $(median ${fpis[$op,$small]}) | $(median ${fpis[$op,$large]}) | $(median ${reads[$op,$small]}) | $(median ${reads[$op,$large]}) |"
  done
  echo
  echo "A booking adds a new id to five B-tree indexes. With random ids (gen_random_uuid) each"
  echo "landed on a random leaf page: at $L a booking read about 4 blocks and wrote 3.3"
  echo "full-page images (23 kB of WAL against 3 kB at $S), and booking made 0.73-0.85 of the"
  echo "$S rate in the runs before migration 0018; its time-ordered ids (bk_uuid7) keep new"
  echo "entries on the same few pages (migrations/0018_scale_indexes.sql)."
  echo
  echo "Erasure of a contact with history (organization 5's contact with the most appointments"
  echo "that has one ahead: \`erase_contact\` in psql, in a transaction rolled back, four times;"
  echo "target under 100 ms at $L):"
  echo
  echo "| | $S | $L |"
  echo "|---|---|---|"
  echo "| the contact | ${erase_what[$small]} | ${erase_what[$large]} |"
  echo "| first call, ms | ${erase_first[$small]} | ${erase_first[$large]} |"
  echo "| median of the next three, ms | ${erase_median[$small]} | ${erase_median[$large]} |"
  echo
  echo "The plans of every hot statement at $L: $explain_md. The databases: ${gen_note[$small]};"
  echo "${gen_note[$large]} (seconds: the time to make it; made: when, as a Unix time)."
  echo
} >"$work/scale.md"
# Replaces the section, or goes before the tuning log, or at the end.
awk -v f="$work/scale.md" '
  function put() { while ((getline l < f) > 0) print l; done = 1 }
  /^## / { skip = 0 }
  /^## Scale with data$/ { put(); skip = 1; next }
  /^## What was tried/ && !done { put() }
  !skip { print }
  END { if (!done) put() }' bench/RESULTS.md >"$work/RESULTS.md"
cp "$work/RESULTS.md" bench/RESULTS.md
cat "$work/scale.md"
