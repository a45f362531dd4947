#!/usr/bin/env bash
# make bench: bookd over HTTP side by side with what PostgreSQL itself does,
# in one run on one database. Prints a table and writes bench/RESULTS.md
# (the measured part; bench/HISTORY.md, the tuning log, is appended).
#
# DATABASE_URL set: that database is used (it must be migratable and is left
# with the benchmark's rows). Unset: a private durable PostgreSQL cluster is
# made for the run and removed after.
# BENCH_SECONDS (default 5) is the length of each measurement; BENCH_RUNS
# (default 3) how many times each is repeated, interleaved with the others
# so that all see the same noise; the tables show medians.
# BUILD (default build) is the build directory whose bookd is measured.
# BENCH_ONLY=pgbouncer measures only bookd through PgBouncer next to bookd
# direct (bench/pgbouncer.sh) and rewrites only that section of RESULTS.md;
# BENCH_ONLY=peer only bookd next to the original design (bench/peer.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# BENCH_SCALE=1: only the measurement at 10 k and 10 M appointments side by
# side (bench/scale.sh), which rewrites its own section of RESULTS.md.
[[ -n "${BENCH_SCALE:-}" ]] && exec bench/scale.sh
source scripts/pglib.sh
source bench/pgbouncer.sh
source bench/outbox.sh
source bench/procs.sh # stop
case ${BENCH_ONLY:-} in
  "" | pgbouncer) ;;
  peer) exec env BOOKD_BIN="${BUILD:-build}/bookd" bench/peer.sh ;;
  *) echo "bench: BENCH_ONLY is empty (everything), pgbouncer or peer" >&2; exit 2 ;;
esac
bookd_bin=${BUILD:-build}/bookd

seconds=${BENCH_SECONDS:-5}
runs=${BENCH_RUNS:-3}
orgs=${BENCH_ORGS:-100}
levels=(1 16 64 256)
day=2039-06-06 # a Monday, inside the default working hours
work=$(mktemp -d)
bin=$(pg_bindir)
pgdir=
bookd_pid=
nw_pid=
recv_pid=
held_pid=
cleanup() {
  pgbouncer_stop
  stop "$bookd_pid"
  stop "$nw_pid"
  stop "$recv_pid"
  stop "$held_pid"
  if [[ -n "$pgdir" ]]; then pg_stop "$pgdir"; rm -rf "$pgdir"; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -z "${DATABASE_URL:-}" ]]; then
  mkdir -p .bookd
  pgdir=$(mktemp -d "$root/.bookd/bench.XXXXXX")
  pg_start "$pgdir" durable
  DATABASE_URL=$(pg_conninfo "$pgdir")
  # pg_stat_statements loaded but counting nothing (no cost) until the
  # delivery runs, whose diagnostics read it (delivery_diag below).
  "$(pg_bindir)/psql" -X -q "${DATABASE_URL/dbname=bookd/dbname=postgres}" \
    -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
  pg_stop "$pgdir"
  pg_start "$pgdir" durable
  "$(pg_bindir)/psql" -X -q "$DATABASE_URL" -c "ALTER SYSTEM SET pg_stat_statements.track = 'none'" \
    -c "SELECT pg_reload_conf()" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  statements=yes
fi
export DATABASE_URL
sql() { "$bin/psql" -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" "$@"; }

"$bookd_bin" migrate 2>/dev/null
sql -f bench/setup.sql

# bookd, as `make run` starts it (its delivery worker included), with the
# rate limits out of the way and webhooks allowed to the local receiver of
# the delivery measurement.
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# The secrets key: the operator's, else make run's (a DATABASE_URL of make
# run's database holds secrets sealed under it), else one for this run.
if [[ -z "${BOOKD_SECRET_KEY:-}" && -s .bookd/secret_key ]]; then
  BOOKD_SECRET_KEY=$(cat .bookd/secret_key)
fi
export BOOKD_SECRET_KEY=${BOOKD_SECRET_KEY:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN=$token BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 \
  BOOKD_RATE_LIMIT_PUBLIC=1000000/1000000 \
  BOOKD_WEBHOOK_ALLOW_PRIVATE=true "$bookd_bin" serve 2>"$work/bookd.log" &
bookd_pid=$!
for _ in $(seq 100); do
  base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/bookd.log" | head -n 1 || true)
  [[ -n "$base" ]] && break
  sleep 0.1
done
[[ -n "$base" ]] || { echo "bench: bookd did not start" >&2; cat "$work/bookd.log" >&2; exit 1; }

# Many organizations, each with a contact: the HTTP side books into them,
# pgbench into the same ones through bench_orgs.
echo "bench: creating $orgs organizations" >&2
: >"$work/orgs.txt"
for i in $(seq "$orgs"); do
  org=$(curl -s -X POST "$base/api/orgs" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"name\":\"Bench $i\",\"timezone\":\"UTC\"}")
  key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
  org_id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$org")
  provider=$(sed -n 's/.*"defaultProviderId":"\([^"]*\)".*/\1/p' <<<"$org")
  contact=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"Bench Patient"}' |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  echo "$key $contact" >>"$work/orgs.txt"
  echo "$key $contact $provider" >>"$work/hold_orgs.txt"
  echo "$(sed -n 's/.*"publicKey":"\([^"]*\)".*/\1/p' <<<"$org") $contact" >>"$work/public_orgs.txt"
  echo "$(sed -n 's/.*"vapiSecret":"\([^"]*\)".*/\1/p' <<<"$org") +4477009$(printf %05d "$i")" \
    >>"$work/vapi_orgs.txt"
  echo "$i,$org_id,$provider,$contact" >>"$work/orgs.csv"
done
sql -c "\\copy bench_orgs FROM '$work/orgs.csv' WITH (FORMAT csv)"
first_key=$(head -n 1 "$work/orgs.txt" | cut -d' ' -f1)
first_contact=$(head -n 1 "$work/orgs.txt" | cut -d' ' -f2)

# A busy day for the availability benchmark: 30 appointments of 15 minutes.
for i in $(seq 0 29); do
  at=$(date -u -d "$day 09:00 UTC + $((i * 15)) minutes" +%Y-%m-%dT%H:%M:%SZ)
  curl -s -o /dev/null -X POST "$base/api/appointments" -H "Authorization: Bearer $first_key" \
    -H 'Content-Type: application/json' \
    -d "{\"contactId\":\"$first_contact\",\"scheduledAt\":\"$at\",\"durationMinutes\":15}"
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$bookd_pid/stat"; }
main_base=$base
# The whole machine's busy ticks (user + nice + system + irq + softirq; steal,
# other tenants' time, left out): CPU a request, steadier than requests/s on a
# shared machine, and on a CPU-bound machine the ratio of two such figures is
# what the ratio of throughputs comes down to.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
hz=$(getconf CLK_TCK)
# ms_per TICKS COUNT: milliseconds of CPU per item.
ms_per() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.3f", t / hz * 1000 / n; else print "n/a" }'; }
rows() { sql -c "SELECT count(*) FROM appointments"; }
# 201s as bookd counted them: wrk cannot see the answers to requests still in
# flight when it stops, but those bookings are made and are rows too.
booked() { curl -s "$base/metrics" | sed -n 's/^bookd_bookings_total{result="booked"} //p'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
# median VALUES...: the middle one (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# per_second COUNT LINE: COUNT over the duration of wrk's BENCH line.
per_second() { awk -v r="$1" -v d="$(field duration_us "$2")" 'BEGIN { printf "%.0f", r / (d / 1e6) }'; }
# ok_per_second LINE: its 2xx answers a second.
ok_per_second() { per_second "$(( $(field requests "$1") - $(field non2xx "$1") ))" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# pair_ratios "A1 A2 ..." "B1 B2 ...": A1/B1, A2/B2, ... in run order. The
# headline ratios are of medians; these show how far single runs spread.
pair_ratios() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " / " : ""), (y[i] > 0 ? sprintf("%.2f", x[i] / y[i]) : "n/a")
  }'
}

# wrk_run SCRIPT CONNECTIONS [env...]: the BENCH line of the script, with
# machine_ms= and bookd_ms=, the machine's and bookd's CPU a request.
# wrk runs in a session of its own (setsid), as a remote client would: the
# kernel's autogroup scheduling shares CPU between sessions first, and wrk
# in bookd's session stalled PostgreSQL's backends (one session, the
# postmaster's) for up to a second at a time (bench/HISTORY.md, step 57).
wrk_run() {
  local script=$1 conns=$2; shift 2
  local threads=$(( conns < 2 ? 1 : 2 )) m0 b0 line
  m0=$(machine_ticks) b0=$(cpu_ticks)
  line=$(env "$@" BENCH_THREADS=$threads setsid -w wrk -t"$threads" -c"$conns" -d"${seconds}s" \
    --timeout 10s -s "$script" "$base" | grep '^BENCH')
  echo "$line machine_ms=$(ms_per $(( $(machine_ticks) - m0 )) "$(field requests "$line")")" \
    "bookd_ms=$(ms_per $(( $(cpu_ticks) - b0 )) "$(field requests "$line")")"
}
# pg_run SCRIPT CLIENTS [-D ...]: "tps=T machine_ms=M", transactions per
# second and the machine's CPU a transaction.
pg_run() {
  local script=$1 clients=$2; shift 2
  local m0 tps
  m0=$(machine_ticks)
  tps=$("$bin/pgbench" -n -M prepared -c "$clients" -j "$(( clients < 2 ? 1 : 2 ))" \
    -T "$seconds" -D orgs="$orgs" -D n=0 -D nc="$clients" -D base="$(sql -c 'SELECT bench_next_base()')" \
    "$@" -f "$script" "$DATABASE_URL" 2>/dev/null |
    sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
  echo "tps=$tps machine_ms=$(ms_per $(( $(machine_ticks) - m0 )) \
    "$(awk -v t="$tps" -v s="$seconds" 'BEGIN { printf "%d", t * s }')")"
}

# BENCH_ONLY=pgbouncer: that part alone (bench/pgbouncer.sh), its section
# of RESULTS.md replaced (or put before "## bookd itself"), the rest kept.
if [[ ${BENCH_ONLY:-} == pgbouncer ]]; then
  run=0
  sql -c "VACUUM (ANALYZE)"
  pgbouncer_measure
  pgbouncer_section >"$work/pgbouncer.md"
  anchor='^## bookd itself'
  grep -q '^## PgBouncer' bench/RESULTS.md 2>/dev/null && anchor='^## PgBouncer'
  touch bench/RESULTS.md
  awk -v sec="$work/pgbouncer.md" -v anchor="$anchor" '
    function put(  l) { while ((getline l < sec) > 0) print l; done = 1 }
    $0 ~ anchor && !done { put(); if ($0 ~ /^## PgBouncer/) { skip = 1; next } }
    skip && /^## / { skip = 0 }
    !skip { print }
    END { if (!done) put() }' bench/RESULTS.md >"$work/RESULTS.md"
  cp "$work/RESULTS.md" bench/RESULTS.md
  cat "$work/pgbouncer.md"
  exit 0
fi

declare -A http_rps http_p50 http_p99 http_non2xx http_2xx http_201 http_rows pg_func pg_insert pg_checked
declare -A cpu_http cpu_bookd cpu_func runs_http_func runs_func_insert
booked_total=0
cpu_before=$(cpu_ticks)
run=0
for c in "${levels[@]}"; do
  echo "bench: $c connections" >&2
  rps=() p50=() p99=() func=() ins=() checked=() http_cpu=() bookd_cpu=() func_cpu=()
  http_non2xx[$c]=0 http_2xx[$c]=0 http_201[$c]=0 http_rows[$c]=0
  for _ in $(seq "$runs"); do
    before=$(rows)
    booked_before=$(booked)
    line=$(wrk_run bench/book.lua "$c" BENCH_DATA="$work/orgs.txt" \
      BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
    run=$(( run + 1 ))
    # Let the requests wrk left in flight finish before counting.
    settled=$(booked)
    while sleep 0.3; now=$(booked); [[ "$now" != "$settled" ]]; do settled=$now; done
    after=$(rows)
    ok2xx=$(( $(field requests "$line") - $(field non2xx "$line") ))
    http_non2xx[$c]=$(( ${http_non2xx[$c]} + $(field non2xx "$line") + $(field sockerr "$line") ))
    http_2xx[$c]=$(( ${http_2xx[$c]} + ok2xx ))
    http_201[$c]=$(( ${http_201[$c]} + settled - booked_before ))
    http_rows[$c]=$(( ${http_rows[$c]} + after - before ))
    booked_total=$(( booked_total + after - before ))
    rps+=("$(per_second "$ok2xx" "$line")")
    p50+=("$(field p50_ms "$line")")
    p99+=("$(field p99_ms "$line")")
    http_cpu+=("$(field machine_ms "$line")")
    bookd_cpu+=("$(field bookd_ms "$line")")
    pg=$(pg_run bench/pg_book.sql "$c")
    func+=("$(field tps "$pg")")
    func_cpu+=("$(field machine_ms "$pg")")
    ins+=("$(field tps "$(pg_run bench/pg_insert.sql "$c")")")
    checked+=("$(field tps "$(pg_run bench/pg_insert_checked.sql "$c")")")
  done
  http_rps[$c]=$(median "${rps[@]}")
  http_p50[$c]=$(median "${p50[@]}")
  http_p99[$c]=$(median "${p99[@]}")
  pg_func[$c]=$(median "${func[@]}")
  pg_insert[$c]=$(median "${ins[@]}")
  pg_checked[$c]=$(median "${checked[@]}")
  cpu_http[$c]=$(median "${http_cpu[@]}")
  cpu_bookd[$c]=$(median "${bookd_cpu[@]}")
  cpu_func[$c]=$(median "${func_cpu[@]}")
  runs_http_func[$c]=$(pair_ratios "${rps[*]}" "${func[*]}")
  runs_func_insert[$c]=$(pair_ratios "${func[*]}" "${ins[*]}")
done
cpu_after=$(cpu_ticks)
# Seconds per 1,000 bookings are milliseconds per booking.
cpu_per_1000=$(ms_per $(( cpu_after - cpu_before )) "$booked_total")

# Holds: a plain booking, a hold, and a hold then its conversion (two
# requests, the voice agent's and the booking page's way to book), each on
# distinct slots at 16 connections, interleaved. The machine's CPU per
# operation is the steadier figure on a CPU-bound machine.
echo "bench: holds, 16 connections" >&2
outbox_drained "$main_base"
hb_rate=() hh_rate=() hc_rate=() hb_cpu=() hh_cpu=() hc_cpu=() holds_non2xx=0
for _ in $(seq "$runs"); do
  for mode in book hold convert; do
    script=bench/hold.lua data=$work/hold_orgs.txt
    [[ $mode == book ]] && script=bench/book.lua data=$work/orgs.txt
    line=$(wrk_run "$script" 16 BENCH_DATA="$data" BENCH_MODE=$mode \
      BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
    run=$(( run + 1 ))
    holds_non2xx=$(( holds_non2xx + $(field non2xx "$line") + $(field sockerr "$line") ))
    rate=$(ok_per_second "$line") cpu=$(field machine_ms "$line")
    case $mode in
      book) hb_rate+=("$rate") hb_cpu+=("$cpu") ;;
      hold) hh_rate+=("$rate") hh_cpu+=("$cpu") ;;
      # Two requests a booking: bookings a second and CPU a booking.
      convert) hc_rate+=("$(awk -v r="$rate" 'BEGIN { printf "%.0f", r / 2 }')")
               hc_cpu+=("$(awk -v c="$cpu" 'BEGIN { printf "%.3f", c * 2 }')") ;;
    esac
  done
done

# The voice agent: bookings through POST /api/webhooks/vapi (one
# bookAppointment tool call a request, inside working hours, since Vapi books
# by the public rules) next to plain bookings and bookings with the public
# key (the same rules), at 16 connections, interleaved. Each Vapi run starts
# on its own Monday, 400 weeks apart, and so does each public run, from
# another Monday.
echo "bench: voice agent, 16 connections" >&2
outbox_drained "$main_base"
vb_rate=() vv_rate=() vb_cpu=() vv_cpu=() vv_p99=() vv_booked=0 vv_answers=0
vp_rate=() vp_cpu=() vp_non2xx=0
vapi_monday=$(date -u -d 2045-01-02 +%s) # a Monday
public_monday=$(date -u -d 2101-01-03 +%s) # a Monday
for r in $(seq "$runs"); do
  line=$(wrk_run bench/book.lua 16 BENCH_DATA="$work/orgs.txt" \
    BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
  run=$(( run + 1 ))
  vb_rate+=("$(ok_per_second "$line")") vb_cpu+=("$(field machine_ms "$line")")
  line=$(wrk_run bench/book.lua 16 BENCH_DATA="$work/public_orgs.txt" BENCH_WORKDAYS=1 \
    BENCH_BASE_EPOCH=$(( public_monday + r * 400 * 7 * 86400 )))
  vp_rate+=("$(ok_per_second "$line")") vp_cpu+=("$(field machine_ms "$line")")
  vp_non2xx=$(( vp_non2xx + $(field non2xx "$line") + $(field sockerr "$line") ))
  before=$(rows)
  vline=$(wrk_run bench/vapi.lua 16 BENCH_DATA="$work/vapi_orgs.txt" \
    BENCH_BASE_EPOCH=$(( vapi_monday + r * 400 * 7 * 86400 )))
  sleep 0.3 # the answers wrk left in flight
  booked=$(( $(rows) - before ))
  vv_booked=$(( vv_booked + booked )) vv_answers=$(( vv_answers + $(field requests "$vline") ))
  vv_rate+=("$(per_second "$booked" "$vline")") vv_p99+=("$(field p99_ms "$vline")")
  vv_cpu+=("$(field machine_ms "$vline")")
done
# The bookings above leave autovacuum work behind (hundreds of thousands of
# new rows in several tables), which would run during the first read
# measurements and land on whichever side happens to run then. Done here,
# before measuring, and so is the checkpoint that would otherwise write out
# what the bookings and the vacuum dirtied in the middle of them.
echo "bench: vacuum, analyze and checkpoint before the availability measurements" >&2
sql -c "VACUUM (ANALYZE)"
# (Needs superuser or pg_checkpoint; without them the run goes on.)
sql -c "CHECKPOINT" 2>/dev/null || echo "bench: not allowed to CHECKPOINT; going on" >&2
declare -A slots_http slots_p99 slots_pg slots_cpu_http slots_cpu_bookd slots_cpu_pg runs_slots
for c in 16 64; do
  echo "bench: availability, $c connections" >&2
  rps=() p99=() tps=() http_cpu=() bookd_cpu=() pg_cpu=()
  for _ in $(seq "$runs"); do
    line=$(wrk_run bench/slots.lua "$c" BENCH_KEY="$first_key" BENCH_DATE="$day")
    http_cpu+=("$(field machine_ms "$line")")
    bookd_cpu+=("$(field bookd_ms "$line")")
    rps+=("$(per_second "$(field requests "$line")" "$line")")
    p99+=("$(field p99_ms "$line")")
    pg=$(pg_run bench/pg_slots.sql "$c" -D day="$day")
    tps+=("$(field tps "$pg")")
    pg_cpu+=("$(field machine_ms "$pg")")
  done
  slots_cpu_http[$c]=$(median "${http_cpu[@]}")
  slots_cpu_bookd[$c]=$(median "${bookd_cpu[@]}")
  slots_cpu_pg[$c]=$(median "${pg_cpu[@]}")
  slots_http[$c]=$(median "${rps[@]}")
  slots_p99[$c]=$(median "${p99[@]}")
  slots_pg[$c]=$(median "${tps[@]}")
  runs_slots[$c]=$(pair_ratios "${rps[*]}" "${tps[*]}")
done

# bookd through PgBouncer in transaction mode next to bookd direct
# (bench/pgbouncer.sh), after the vacuum above, before the delivery runs
# leave work to the workers.
pgbouncer_measure

# Delivery: bookings at 16 connections through this bookd, whose worker
# delivers each one's webhook to a local receiver, next to bookings through a
# second bookd on the same database started --no-worker (into organizations
# without endpoints), interleaved. The receiver times each delivery from its
# event to its arrival.
echo "bench: delivery, the worker sending webhooks next to bookings without one" >&2
cc -O2 -o "$work/receiver" bench/receiver.c
"$work/receiver" 900 >"$work/receiver.port" 2>"$work/receiver.log" &
recv_pid=$!
for _ in $(seq 50); do [[ -s "$work/receiver.port" ]] && break; sleep 0.1; done
recv="http://127.0.0.1:$(cat "$work/receiver.port")"
: >"$work/hook_orgs.txt"
for i in $(seq "$orgs"); do
  org=$(curl -s -X POST "$base/api/orgs" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"name\":\"Bench hooks $i\",\"timezone\":\"UTC\"}")
  key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
  contact=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"Bench Patient"}' |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  curl -s -o /dev/null -X POST "$base/api/webhook-endpoints" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"url\":\"$recv/hook\",\"events\":[\"appointment.booked\"]}"
  echo "$key $contact" >>"$work/hook_orgs.txt"
done
BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN=$token BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 \
  BOOKD_NO_WORKER=true "$bookd_bin" serve 2>"$work/bookd-nw.log" &
nw_pid=$!
for _ in $(seq 100); do
  nw_base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/bookd-nw.log" | head -n 1 || true)
  [[ -n "$nw_base" ]] && break
  sleep 0.1
done
main_pid=$bookd_pid
# await_webhooks: once the bookings since $booked_before have settled, waits
# (three minutes at most) until the receiver has as many webhooks; sets
# expected, got and stats (the receiver's figures).
await_webhooks() {
  settled=$(booked)
  while sleep 0.3; now=$(booked); [[ "$now" != "$settled" ]]; do settled=$now; done
  expected=$(( settled - booked_before ))
  for _ in $(seq 600); do
    stats=$(curl -s "$recv/stats")
    got=$(sed -n 's/.*"count":\([0-9]*\).*/\1/p' <<<"$stats")
    (( got >= expected )) && break
    sleep 0.3
  done
}
# First at a steady half of the rate the booking measurement above reached
# at 16 connections (each connection paced), where the machine has room for
# both the bookings and their deliveries: the latency a delivery has when
# the worker keeps up. Then at full speed, with and without a worker.
pace_ms=$(awk -v r="${http_rps[16]}" 'BEGIN { printf "%d", (r > 0 ? 16 * 1000 / (r / 2) : 10) }')
paced_rate=() paced_p50=() paced_p99=() paced_lost=0 paced_sent=0
# delivery_diag LABEL: what the worker did since the last call (its delivery
# counters by result, the warnings in its log), to stderr: when a run's
# latency is off, the reason is in make bench's own output.
# With the private cluster, also the statements that took the most time
# since (pg_stat_statements, top-level calls: the worker's are functions).
diag_results= diag_warns=0
delivery_diag() {
  local now warns
  now=$(curl -s "$main_base/metrics" | sed -n 's/^bookd_webhook_deliveries_total{result="\([a-z]*\)"} \([0-9]*\)$/\1=\2/p' | tr '\n' ' ')
  warns=$(grep -c '"level":"warn"' "$work/bookd.log" || true)
  echo "bench: $1: deliveries by result now ${now:-?}(before: ${diag_results:-none}); warnings in bookd's log since: $(( warns - diag_warns ))" >&2
  (( warns > diag_warns )) && grep '"level":"warn"' "$work/bookd.log" | tail -n $(( warns - diag_warns < 3 ? warns - diag_warns : 3 )) | cut -c1-300 >&2
  if [[ -n ${statements:-} ]]; then
    sql -F ' | ' -c "SELECT calls, round(mean_exec_time::numeric, 3) AS mean_ms, round(max_exec_time::numeric, 1) AS max_ms,
                            left(regexp_replace(query, '\s+', ' ', 'g'), 70)
                       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 6" | sed 's/^/bench:   /' >&2 || true
    sql -c "SELECT pg_stat_statements_reset()" >/dev/null || true
  fi
  # What keeps old row versions alive: the oldest snapshot on the cluster,
  # and the dead rows of deliveries.
  sql -F ' | ' -c "SELECT 'oldest snapshot: ' || coalesce((SELECT format('%s (%s, %s), %s transactions old, open %s s',
                              pid, backend_type, coalesce(state, '-'), age(backend_xmin),
                              coalesce(extract(epoch FROM now() - xact_start)::int, 0))
                              FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND pid <> pg_backend_pid()
                              ORDER BY age(backend_xmin) DESC LIMIT 1), 'none'),
                          format('deliveries: %s live, %s dead, last vacuum %s s ago', n_live_tup, n_dead_tup,
                                 coalesce(extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::int, -1))
                     FROM pg_stat_user_tables WHERE relname = 'deliveries'" | sed 's/^/bench:   /' >&2 || true
  diag_results=$now diag_warns=$warns
}
[[ -n ${statements:-} ]] && sql -c "ALTER SYSTEM SET pg_stat_statements.track = 'top'" -c "SELECT pg_reload_conf()" >/dev/null
delivery_diag "before the paced runs"
# paced_run LABEL: one paced run into the endpoints' organizations, its
# webhooks awaited (await_webhooks); sets line, and p50 and p99 of its
# deliveries.
paced_run() {
  outbox_drained "$main_base"
  curl -s -X POST "$recv/reset"
  booked_before=$(booked)
  line=$(wrk_run bench/book.lua 16 BENCH_DATA="$work/hook_orgs.txt" BENCH_PACE_MS="$pace_ms" \
    BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
  run=$(( run + 1 ))
  await_webhooks
  p50=$(sed -n 's/.*"p50Ms":\([0-9.]*\).*/\1/p' <<<"$stats")
  p99=$(sed -n 's/.*"p99Ms":\([0-9.]*\).*/\1/p' <<<"$stats")
  delivery_diag "$1 ($stats)"
}
for _ in $(seq "$runs"); do
  paced_run "paced run"
  paced_rate+=("$(ok_per_second "$line")")
  paced_sent=$(( paced_sent + expected ))
  paced_lost=$(( paced_lost + (expected > got ? expected - got : 0) ))
  paced_p50+=("$p50") paced_p99+=("$p99")
done

with=() without=() d_p50=() d_p99=() d_lost=0 d_sent=0
for _ in $(seq "$runs"); do
  base=$nw_base bookd_pid=$nw_pid
  line=$(wrk_run bench/book.lua 16 BENCH_DATA="$work/orgs.txt" \
    BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
  run=$(( run + 1 ))
  without+=("$(ok_per_second "$line")")
  base=$main_base bookd_pid=$main_pid
  # The run without a worker still wrote an event a booking, which this
  # bookd's worker fans out (to no endpoint): done before the run with the
  # worker starts, so that run is not charged with the other's work.
  outbox_drained "$main_base"
  curl -s -X POST "$recv/reset"
  booked_before=$(booked)
  line=$(wrk_run bench/book.lua 16 BENCH_DATA="$work/hook_orgs.txt" \
    BENCH_BASE_EPOCH=$(( $(date -u -d 2040-01-01 +%s) + run * 315360000 )))
  run=$(( run + 1 ))
  with+=("$(ok_per_second "$line")")
  # Every booking's webhook, waited for at most 60 s.
  await_webhooks
  d_sent=$(( d_sent + expected ))
  d_lost=$(( d_lost + (expected > got ? expected - got : 0) ))
  d_p50+=("$(sed -n 's/.*"p50Ms":\([0-9.]*\).*/\1/p' <<<"$stats")")
  d_p99+=("$(sed -n 's/.*"p99Ms":\([0-9.]*\).*/\1/p' <<<"$stats")")
  delivery_diag "full-speed run ($stats)"
done
# The same paced runs while a transaction stays open on the cluster all
# along, as a pg_dump or a long report holds one: no old row version can
# be removed meanwhile, and whatever the worker reads through them grows
# with every delivery (bench/HISTORY.md, step 46).
held_p50=() held_p99=() held_lost=0 held_sent=0
mkfifo "$work/held"
"$bin/psql" -X -q "$DATABASE_URL" <"$work/held" >/dev/null &
held_pid=$!
exec 9>"$work/held"
echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM organizations;" >&9
for _ in $(seq "$runs"); do
  paced_run "paced run, a transaction held open"
  held_sent=$(( held_sent + expected ))
  held_lost=$(( held_lost + (expected > got ? expected - got : 0) ))
  held_p50+=("$p50") held_p99+=("$p99")
done
echo "COMMIT;" >&9
exec 9>&-
wait "$held_pid" || true
held_pid=
stop "$nw_pid"
nw_pid=
[[ -n ${statements:-} ]] && sql -c "ALTER SYSTEM SET pg_stat_statements.track = 'none'" -c "SELECT pg_reload_conf()" >/dev/null
delivery_with=$(median "${with[@]}") delivery_without=$(median "${without[@]}")



echo "bench: same-slot contention" >&2
contention=$(node bench/contention.mjs "$base" "$first_key" "$first_contact")
rss_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$bookd_pid/status")

best=0
for c in "${levels[@]}"; do (( ${http_rps[$c]} > best )) && best=${http_rps[$c]}; done

{
  echo "# bookd benchmark results"
  echo
  echo "Measured by \`make bench\` (bench/run.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}'), $orgs organizations; each measurement ${seconds} s,"
  echo "repeated $runs times interleaved with the others; the tables show medians (counts are totals)."
  echo "Every figure in a row comes from the same run on the same database; ratios compare"
  echo "figures measured minutes apart on this shared machine, never across runs."
  echo
  echo "## Booking distinct slots"
  echo
  echo "| connections | bookd HTTP bookings/s | p50 ms | p99 ms | non-2xx | 2xx seen by wrk | 201s sent by bookd | rows written | pgbench function tps | pgbench bare INSERT tps | HTTP ÷ function | HTTP ÷ INSERT | function ÷ INSERT |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for c in "${levels[@]}"; do
    echo "| $c | ${http_rps[$c]} | ${http_p50[$c]} | ${http_p99[$c]} | ${http_non2xx[$c]} | ${http_2xx[$c]} | ${http_201[$c]} | ${http_rows[$c]} | ${pg_func[$c]} | ${pg_insert[$c]} | $(ratio "${http_rps[$c]}" "${pg_func[$c]}") | $(ratio "${http_rps[$c]}" "${pg_insert[$c]}") | $(ratio "${pg_func[$c]}" "${pg_insert[$c]}") |"
  done
  echo
  echo "### The cost of correctness, split"
  echo
  echo 'The same row INSERTed into `appointments` itself (bench/pg_insert_checked.sql: every'
  echo "constraint, index and foreign key of the table, the GiST exclusion check included, but"
  echo "no bucket locks, audit entry (the event), or PL/pgSQL) sits between the bare INSERT and the"
  echo "function: the first ratio is the price of the table's integrity, the second the price"
  echo "of the booking protocol on top of it."
  echo
  echo "| connections | pgbench INSERT into appointments tps | that ÷ bare INSERT | function ÷ that |"
  echo "|---|---|---|---|"
  for c in "${levels[@]}"; do
    echo "| $c | ${pg_checked[$c]} | $(ratio "${pg_checked[$c]}" "${pg_insert[$c]}") | $(ratio "${pg_func[$c]}" "${pg_checked[$c]}") |"
  done
  echo
  echo "Rows written equal the 201s bookd sent; wrk sees slightly fewer because it stops"
  echo "without reading the answers to requests still in flight."
  echo
  echo "At 256 connections bookd keeps $(ratio "${http_rps[256]}" "$best") of its best figure."
  echo
  echo "### Run by run"
  echo
  echo "The ratios above are of medians. Each run's own ratio, in run order (an HTTP run and"
  echo "the pgbench runs right after it), shows how far the machine's noise moves one figure:"
  echo
  echo "| connections | HTTP ÷ function | function ÷ INSERT |"
  echo "|---|---|---|"
  for c in "${levels[@]}"; do
    echo "| $c | ${runs_http_func[$c]} | ${runs_func_insert[$c]} |"
  done
  echo
  echo "### Where the machine's CPU goes"
  echo
  echo "The two cores are shared by the load generator, bookd and PostgreSQL, so when they are"
  echo "busy the throughput ratio comes down to the ratio of the machine's CPU a booking (user +"
  echo "system + interrupts, other tenants' steal left out) through pgbench and through wrk and"
  echo "bookd. The difference is bookd's own share plus wrk's, less pgbench's client."
  echo
  echo "| connections | machine ms a booking, HTTP | machine ms a booking, pgbench function | pgbench ÷ HTTP | bookd's own ms a booking |"
  echo "|---|---|---|---|---|"
  for c in "${levels[@]}"; do
    echo "| $c | ${cpu_http[$c]} | ${cpu_func[$c]} | $(ratio "${cpu_func[$c]}" "${cpu_http[$c]}") | ${cpu_bookd[$c]} |"
  done
  echo
  echo "## Holds (16 connections)"
  echo
  echo "A plain booking next to a hold (POST /api/holds) and next to a hold then its conversion"
  echo "(POST /api/appointments with the holdId: two requests a booking), each on distinct slots,"
  echo "interleaved; machine ms is the machine's CPU an operation (a booking, a hold, or a hold"
  echo "and its conversion). Targets: a hold costs no more than a booking; a hold and its"
  echo "conversion no more than two bookings."
  echo
  echo "| | per second | machine ms each | ÷ a booking's machine ms |"
  echo "|---|---|---|---|"
  echo "| booking | $(median "${hb_rate[@]}") | $(median "${hb_cpu[@]}") | 1 |"
  echo "| hold | $(median "${hh_rate[@]}") | $(median "${hh_cpu[@]}") | $(ratio "$(median "${hh_cpu[@]}")" "$(median "${hb_cpu[@]}")") |"
  echo "| hold + conversion | $(median "${hc_rate[@]}") | $(median "${hc_cpu[@]}") | $(ratio "$(median "${hc_cpu[@]}")" "$(median "${hb_cpu[@]}")") |"
  echo
  echo "Run by run, machine ms ÷ a booking's: hold $(pair_ratios "${hh_cpu[*]}" "${hb_cpu[*]}"); hold + conversion $(pair_ratios "${hc_cpu[*]}" "${hb_cpu[*]}")."
  echo "Non-2xx answers and socket errors in these runs: $holds_non2xx."
  echo
  echo "## Voice agent (16 connections)"
  echo
  echo "Bookings through \`POST /api/webhooks/vapi\` (one \`bookAppointment\` tool call a request:"
  echo "the contact found by phone or made, the answer stored under the toolCallId, the"
  echo "booking by the public rules) next to plain \`POST /api/appointments\` bookings (an admin"
  echo "key: no public rules, no manage link) and to bookings with the public key (the public"
  echo "rules and a manage link, as the booking page books), interleaved."
  echo "Target: at least 0.8 of the plain rate, p99 under 100 ms. Proposed instead"
  echo "(bench/HISTORY.md, step 52): at least 0.8 of the public-key rate, the booking that"
  echo "keeps the same rules; a Vapi booking also keeps what API.md asks of it alone (the"
  echo "contact found by its phone, the answer stored as the tool call's idempotency key)."
  echo
  echo "| plain bookings/s | public-key bookings/s | Vapi bookings/s | Vapi ÷ plain | Vapi ÷ public key | Vapi p99 ms | machine ms a booking, plain / public key / Vapi | answers | of them booked |"
  echo "|---|---|---|---|---|---|---|---|---|"
  echo "| $(median "${vb_rate[@]}") | $(median "${vp_rate[@]}") | $(median "${vv_rate[@]}") | $(ratio "$(median "${vv_rate[@]}")" "$(median "${vb_rate[@]}")") | $(ratio "$(median "${vv_rate[@]}")" "$(median "${vp_rate[@]}")") | $(median "${vv_p99[@]}") | $(median "${vb_cpu[@]}") / $(median "${vp_cpu[@]}") / $(median "${vv_cpu[@]}") | $vv_answers | $vv_booked |"
  echo
  echo "Run by run, Vapi ÷ plain: $(pair_ratios "${vv_rate[*]}" "${vb_rate[*]}"); Vapi ÷ public key: $(pair_ratios "${vv_rate[*]}" "${vp_rate[*]}"); p99 ms: ${vv_p99[*]}."
  echo "Non-2xx answers and socket errors of the public-key runs: $vp_non2xx."
  echo
  echo "## Availability (GET /api/availability, a day with 30 appointments)"
  echo
  echo "| connections | bookd HTTP req/s | p99 ms | pgbench same SQL tps | HTTP ÷ pgbench |"
  echo "|---|---|---|---|---|"
  for c in 16 64; do
    echo "| $c | ${slots_http[$c]} | ${slots_p99[$c]} | ${slots_pg[$c]} | $(ratio "${slots_http[$c]}" "${slots_pg[$c]}") |"
  done
  echo
  echo "HTTP ÷ pgbench run by run: at 16 connections ${runs_slots[16]}; at 64, ${runs_slots[64]}."
  echo
  echo "| connections | machine ms a request, HTTP | machine ms, pgbench | pgbench ÷ HTTP | bookd's own ms a request |"
  echo "|---|---|---|---|---|"
  for c in 16 64; do
    echo "| $c | ${slots_cpu_http[$c]} | ${slots_cpu_pg[$c]} | $(ratio "${slots_cpu_pg[$c]}" "${slots_cpu_http[$c]}") | ${slots_cpu_bookd[$c]} |"
  done
  echo
  echo "## Delivery (16 connections; the worker sending every booking's webhook)"
  echo
  echo "Bookings through bookd whose worker delivers each one's webhook to a local receiver,"
  echo "next to bookings through a second bookd on the same database started \`--no-worker\`,"
  echo "interleaved. Latency is from the event to the webhook's arrival, at the receiver."
  echo
  echo "| bookings/s without a worker | bookings/s with the worker delivering | with ÷ without | delivery p50 ms | delivery p99 ms | webhooks expected | not arrived |"
  echo "|---|---|---|---|---|---|---|"
  echo "| $delivery_without | $delivery_with | $(ratio "$delivery_with" "$delivery_without") | $(median "${d_p50[@]}") | $(median "${d_p99[@]}") | $d_sent | $d_lost |"
  echo
  echo "Run by run, with ÷ without: $(pair_ratios "${with[*]}" "${without[*]}"); p99 ms: ${d_p99[*]}."
  echo
  echo "At a steady half of the 16-connection booking rate above (each connection waits"
  echo "${pace_ms} ms before each request), where the machine has room for the deliveries too:"
  echo
  echo "| bookings/s | delivery p50 ms | delivery p99 ms | webhooks expected | not arrived |"
  echo "|---|---|---|---|---|"
  echo "| $(median "${paced_rate[@]}") | $(median "${paced_p50[@]}") | $(median "${paced_p99[@]}") | $paced_sent | $paced_lost |"
  echo
  echo "Run by run, p99 ms: ${paced_p99[*]}."
  echo
  echo "The same paced runs while one transaction stays open on the cluster throughout (as a"
  echo "pg_dump holds one), so that no old row version can be removed meanwhile:"
  echo
  echo "| delivery p50 ms | delivery p99 ms | webhooks expected | not arrived |"
  echo "|---|---|---|---|"
  echo "| $(median "${held_p50[@]}") | $(median "${held_p99[@]}") | $held_sent | $held_lost |"
  echo
  echo "Run by run, p99 ms: ${held_p99[*]}."
  echo
  echo "## Same-slot contention (64 concurrent requests for one slot, 50 rounds)"
  echo
  echo "\`$contention\`"
  echo
  pgbouncer_section
  echo "## bookd itself"
  echo
  echo "- peak RSS: $(( rss_kib / 1024 )) MiB ($rss_kib KiB), after the 256-connection run"
  echo "- CPU: $cpu_per_1000 s per 1,000 bookings over HTTP (user + system, all levels)"
  echo
  # The "Scale with data" section (BENCH_SCALE=1, bench/scale.sh) is kept.
  [[ -f bench/RESULTS.md ]] && awk '/^## / { keep = ($0 == "## Scale with data") } keep' bench/RESULTS.md
  [[ -f bench/HISTORY.md ]] && cat bench/HISTORY.md
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" bench/RESULTS.md
BOOKD_BIN=$bookd_bin PEER_CALLER="make bench" bench/peer.sh || echo "bench: bench/peer.sh (bookd and the original design, side by side) failed" >&2
sed -n '1,/^## bookd itself/p' bench/RESULTS.md | sed '$d'
grep -A3 '^## bookd itself' bench/RESULTS.md
