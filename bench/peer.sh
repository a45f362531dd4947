#!/usr/bin/env bash
# bookd side by side with the original design it replaces (../shared/peer-seed:
# Node.js, Express and node-postgres; a booking function that takes one
# advisory try-lock on the exact start time, looks for an overlap with a
# SELECT and inserts), on one PostgreSQL server, in one run:
#
#   - bookings over HTTP with wrk -t2 at 16 and 64 connections, every request
#     a distinct 30-minute slot (the original's distinct.lua; bookd's
#     bench/book.lua);
#   - each design's SQL function alone through pgbench at 16 and 64 clients
#     (the original's pgb_function.sql; bookd's bench/pg_book.sql);
#   - an overlap race over each design's HTTP API: PEER_RACE_PAIRS pairs of
#     14:00/60 min and 14:30/30 min bookings sent at the same moment for the
#     same organization and provider, overlapping confirmed pairs counted in
#     SQL;
#   - the HTTP and function measurements again once every organization holds
#     PEER_HISTORY past appointments more, as a practice's calendar does after
#     a few months: the original's overlap check reads every earlier
#     appointment of the organization, bookd's does not;
#   - last, both databases emptied, each design's function alone once more,
#     next to copies of bookd's database that each lack one of its guarantees
#     (bench/guarantees.sh): what each costs where the original is cheapest.
#
# Fair by construction: both on the same server, each in its own database
# made fresh for the run; every measurement preceded by 3 s of the same load
# (Node's JIT needs it; bookd gets the same); the two interleaved (original,
# bookd, original, bookd, ...) for BENCH_RUNS rounds; medians; the same wrk
# and pgbench settings. Writes the section "bookd and the original design,
# side by side" of bench/RESULTS.md (between its markers, or before the first
# section) and prints it.
#
#   bench/peer.sh        alone (a quick run: BENCH_SECONDS=3 BENCH_RUNS=1)
#   make bench           bench/run.sh calls it once it has written RESULTS.md,
#                        on its own server (its DATABASE_URL) with its bookd binary
#
# DATABASE_URL: the server (its databases `booking` and `bookd_side` are made
#   for the run and dropped after; a database of those names not made by this
#   script is left alone, and nothing is measured). Unset: a private durable
#   cluster is made for the run and removed after, as bench/run.sh does.
# BENCH_SECONDS (10): a measurement; BENCH_RUNS (3): rounds.
# BOOKD_BIN (BUILD/bookd, BUILD defaulting to build): the bookd measured.
# PEER_SEED (../shared/peer-seed), PEER_ORGS (1000, as many as the original's
#   seed has), PEER_RACE_PAIRS (200), PEER_HISTORY (1000: the past appointments
#   an organization added for the second pass; 0 skips it), PEER_KEEP=1 keeps the two databases,
#   PEER_RESULTS (bench/RESULTS.md) the file whose section is written.
# Needs node and npm (the registry, for `npm ci`), wrk, PostgreSQL's client
# programs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck disable=SC1091
source scripts/pglib.sh
source bench/outbox.sh
source bench/procs.sh # stop

seed=${PEER_SEED:-$root/../shared/peer-seed}
seconds=${BENCH_SECONDS:-10}
rounds=${BENCH_RUNS:-3}
orgs=${PEER_ORGS:-1000}
history=${PEER_HISTORY:-1000}
pairs=${PEER_RACE_PAIRS:-200}
warm=3
levels=(16 64)
bookd_bin=${BOOKD_BIN:-${BUILD:-build}/bookd}
results=${PEER_RESULTS:-bench/RESULTS.md}
begin_mark='<!-- bench/peer.sh: begin -->'
end_mark='<!-- bench/peer.sh: end -->'
title='## bookd and the original design, side by side'
command_line=
[[ -z ${PEER_CALLER:-} ]] && command_line=${BOOKD_BIN:+BOOKD_BIN=$BOOKD_BIN }
command_line="${BENCH_SECONDS:+BENCH_SECONDS=$BENCH_SECONDS }${BENCH_RUNS:+BENCH_RUNS=$BENCH_RUNS }${PEER_ORGS:+PEER_ORGS=$PEER_ORGS }${PEER_RACE_PAIRS:+PEER_RACE_PAIRS=$PEER_RACE_PAIRS }${command_line:-}${PEER_CALLER:-bench/peer.sh}"

# put_section FILE: FILE (the section, from its begin marker to its end
# marker) in place of the one in RESULTS.md, else before its first section,
# else at its end.
put_section() {
  local has=0 tmp
  touch "$results"
  grep -qxF "$begin_mark" "$results" && has=1
  tmp=$(mktemp)
  awk -v sec="$1" -v b="$begin_mark" -v e="$end_mark" -v has="$has" '
    function put(  l) { while ((getline l < sec) > 0) print l; close(sec); done = 1 }
    has && $0 == b { put(); skip = 1; next }
    skip { if ($0 == e) skip = 0; next }
    !has && !done && /^## / { put(); print "" }
    { print }
    END { if (!done) { print ""; put() } }' "$results" >"$tmp"
  cat "$tmp" >"$results"
  rm -f "$tmp"
}

if [[ ! -d $seed ]]; then
  echo "bench: bookd and the original design side by side not measured: ../shared/peer-seed not found" >&2
  sec=$(mktemp)
  printf '%s\n%s\n\n%s\n\n%s\n' "$begin_mark" "$title" \
    "Not measured: ../shared/peer-seed not found (bench/peer.sh measures it when that folder is there)." \
    "$end_mark" >"$sec"
  put_section "$sec"
  rm -f "$sec"
  exit 0
fi

for tool in node npm wrk; do
  command -v "$tool" >/dev/null || { echo "bench/peer.sh: $tool not found (scripts/deps.sh --test)" >&2; exit 1; }
done
[[ -x $bookd_bin ]] || { echo "bench/peer.sh: $bookd_bin not found (make all, or set BOOKD_BIN)" >&2; exit 1; }

bin=$(pg_bindir)
mkdir -p .bookd
scratch=$(mktemp -d "$root/.bookd/peer.XXXXXX")
pgdir=
peer_pid=
bookd_pid=
made_dbs=()
# stop_servers: the original's service and bookd, stopped.
stop_servers() {
  local w
  if [[ -n $peer_pid ]]; then
    stop "$peer_pid"
    # Its workers stop with it; any left over are stopped by their ids.
    for w in ${peer_workers:-}; do kill "$w" 2>/dev/null || true; done
    peer_pid=
  fi
  stop "$bookd_pid"
  bookd_pid=
}
cleanup() {
  stop_servers
  [[ -f $scratch/cpu.pid ]] && { kill "$(cat "$scratch/cpu.pid")" 2>/dev/null || true; }
  if [[ -n $pgdir ]]; then
    pg_stop "$pgdir"
    rm -rf "$pgdir"
  elif [[ ${PEER_KEEP:-} != 1 ]]; then
    for db in "${made_dbs[@]}"; do
      "$bin/psql" -X -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# The server: DATABASE_URL's, else a private durable cluster for this run.
if [[ -z ${DATABASE_URL:-} ]]; then
  pgdir=$(mktemp -d "$root/.bookd/peer-pg.XXXXXX")
  echo "bench/peer.sh: a private PostgreSQL cluster in $pgdir" >&2
  pg_start "$pgdir" durable
  DATABASE_URL=$(pg_conninfo "$pgdir")
fi
export DATABASE_URL
psql_on() { local c=$1; shift; "$bin/psql" -X -q -t -A -v ON_ERROR_STOP=1 "$c" "$@"; }
# conn_value KEY: KEY of DATABASE_URL (key=value or postgres:// URI).
conn_value() {
  if [[ $DATABASE_URL == postgres://* || $DATABASE_URL == postgresql://* ]]; then
    node -e 'const u = new URL(process.argv[1]), k = process.argv[2];
      const v = u.searchParams.get(k) ||
        (k === "host" ? u.hostname : k === "user" ? u.username : k === "password" ? u.password : "");
      console.log(decodeURIComponent(v || ""));' "$DATABASE_URL" "$1"
  else
    sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$DATABASE_URL"
  fi
}
pg_host=$(conn_value host)
pg_host=${pg_host:-/var/run/postgresql}
pg_password=$(conn_value password)
[[ -n $pg_password ]] && export PGPASSWORD=$pg_password
pg_user=$(psql_on "$DATABASE_URL" -c "SELECT current_user")
pg_port=$(psql_on "$DATABASE_URL" -c "SELECT current_setting('port')")
pg_version=$(psql_on "$DATABASE_URL" -c "SHOW server_version" | awk '{print $1}')
conninfo() { echo "host=$pg_host port=$pg_port user=$pg_user dbname=$1"; }

# fresh_db NAME: NAME made anew, unless a database of that name exists that
# this script did not make.
fresh_db() {
  local exists note
  exists=$(psql_on "$DATABASE_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$1'")
  note=$(psql_on "$DATABASE_URL" -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$1'")
  if [[ -n $exists && $note != "bench/peer.sh"* ]]; then
    echo "bench/peer.sh: database $1 exists and was not made by bench/peer.sh; nothing measured" >&2
    exit 1
  fi
  PGOPTIONS='-c client_min_messages=warning' \
    psql_on "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
  psql_on "$DATABASE_URL" -c "CREATE DATABASE $1" >/dev/null
  made_dbs+=("$1")
  psql_on "$DATABASE_URL" -c "COMMENT ON DATABASE $1 IS 'bench/peer.sh: made for the side-by-side benchmark, dropped after it'" >/dev/null
}

# The original design, from a copy of its folder, in database `booking`.
echo "bench/peer.sh: the original design from $seed (npm ci)" >&2
cp -r "$seed" "$scratch/app"
chmod -R u+w "$scratch/app"
(cd "$scratch/app" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$scratch/npm.log" 2>&1) ||
  { cat "$scratch/npm.log" >&2; exit 1; }
fresh_db booking
psql_on "$(conninfo booking)" -f "$scratch/app/schema.sql" >/dev/null
peer_port=$(node -e 'const s = require("net").createServer();
  s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
(cd "$scratch/app" && exec env PORT="$peer_port" HOST=127.0.0.1 WORKERS=2 POOL_SIZE=20 \
  PGHOST="$pg_host" PGPORT="$pg_port" PGUSER="$pg_user" PGDATABASE=booking \
  node server.js) >"$scratch/peer.log" 2>&1 &
peer_pid=$!
peer_base=http://127.0.0.1:$peer_port
for _ in $(seq 100); do
  (( $(grep -c listening "$scratch/peer.log" || true) >= 2 )) && break
  sleep 0.1
done
curl -sf "$peer_base/healthz" >/dev/null ||
  { echo "bench/peer.sh: the original design did not start" >&2; cat "$scratch/peer.log" >&2; exit 1; }
peer_workers=$(ps -o pid= --ppid "$peer_pid" | tr -s ' \n' ' ')

# bookd, as bench/run.sh starts it (its delivery worker included, the rate
# limits out of the way), on database `bookd_side`.
echo "bench/peer.sh: bookd ($bookd_bin) with $orgs organizations" >&2
export BOOKD_SECRET_KEY=${BOOKD_SECRET_KEY:-$(printf '5eed%.0s' {1..16})}
fresh_db bookd_side
bookd_url=$(conninfo bookd_side)
DATABASE_URL=$bookd_url "$bookd_bin" migrate 2>"$scratch/migrate.log" ||
  { cat "$scratch/migrate.log" >&2; exit 1; }
psql_on "$bookd_url" -f bench/setup.sql >/dev/null
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
DATABASE_URL=$bookd_url BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN=$token \
  BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 BOOKD_WEBHOOK_ALLOW_PRIVATE=true \
  "$bookd_bin" serve 2>"$scratch/bookd.log" &
bookd_pid=$!
bookd_base=
for _ in $(seq 100); do
  bookd_base=$(grep -o 'http://127.0.0.1:[0-9]*' "$scratch/bookd.log" | head -n 1 || true)
  [[ -n $bookd_base ]] && break
  sleep 0.1
done
[[ -n $bookd_base ]] || { echo "bench/peer.sh: bookd did not start" >&2; cat "$scratch/bookd.log" >&2; exit 1; }
timeout 600 node bench/peer.mjs orgs "$bookd_base" "$token" "$orgs" "$scratch/orgs.txt" "$scratch/orgs.csv"
psql_on "$bookd_url" -c "\\copy bench_orgs FROM '$scratch/orgs.csv' WITH (FORMAT csv)"

# The helpers of bench/run.sh, for the same figures: the whole machine's busy
# ticks (user + nice + system + irq + softirq; steal, other tenants' time,
# left out), medians, ratios.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# own_ticks PID...: utime + stime of these processes.
own_ticks() {
  local t=0 p
  for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) )); done
  echo "$t"
}
hz=$(getconf CLK_TCK)
ms_per() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.3f", t / hz * 1000 / n; else print "n/a" }'; }
field() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
pair_ratios() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " / " : ""), (y[i] > 0 ? sprintf("%.2f", x[i] / y[i]) : "n/a")
  }'
}
# Every load gets its own stretch of time, a year apart from 2040 on
# (2035-2039 is the race's): no request meets another run's booking. The
# count is kept in a file, since the loads run in command substitutions.
echo 0 >"$scratch/era"
next_epoch() {
  local era; era=$(cat "$scratch/era")
  echo $(( era + 1 )) >"$scratch/era"
  echo $(( $(date -u -d 2040-01-01 +%s) + era * 365 * 86400 ))
}

# wrk_once WHO CONNS SECONDS EPOCH: "requests= duration_us= p50_ms= p99_ms=
# non2xx= sockerr=" for one wrk run against WHO (peer or bookd). wrk in a
# session of its own, as in bench/run.sh's wrk_run.
wrk_once() {
  local who=$1 c=$2 s=$3 epoch=$4 out
  if [[ $who == peer ]]; then
    out=$(cd "$scratch/app" && env BASE_EPOCH="$epoch" WRK_THREADS=2 \
      setsid -w wrk -t2 -c"$c" -d"${s}s" --timeout 10s -s distinct.lua "$peer_base" | grep '^JSON ')
    # distinct.lua's JSON line, in bench/report.lua's terms.
    # shellcheck disable=SC2016 # JavaScript's template strings
    node -e 'const j = JSON.parse(process.argv[1].slice(5));
      console.log(`requests=${j.requests} duration_us=${j.duration_us} p50_ms=${j.p50_ms} ` +
        `p99_ms=${j.p99_ms} non2xx=${j.non2xx} ` +
        `sockerr=${j.connect_err + j.read_err + j.write_err + j.timeout_err}`);' "$out"
  else
    env BENCH_DATA="$scratch/orgs.txt" BENCH_BASE_EPOCH="$epoch" BENCH_THREADS=2 \
      setsid -w wrk -t2 -c"$c" -d"${s}s" --timeout 10s -s bench/book.lua "$bookd_base" | grep '^BENCH'
  fi
}
# The server's processes are on this machine: the CPU of a design's
# PostgreSQL backends is read from /proc by bench/peer.mjs cpu, as the
# children of the postmaster (the checkpointer's parent) titled with the
# design's database. Without it (a server elsewhere) the figures are n/a.
postmaster=$(awk '{print $4}' "/proc/$(psql_on "$DATABASE_URL" -c \
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'")/stat" 2>/dev/null || true)
# pg_cpu_start DB / pg_cpu_stop: the ticks of DB's backends in between,
# into pg (not a command substitution: it waits for the sampler, its child).
pg_cpu_start() {
  [[ -n $postmaster ]] || return 0
  node bench/peer.mjs cpu "$postmaster" "$pg_user" "$1" >"$scratch/cpu.out" &
  echo $! >"$scratch/cpu.pid"
  for _ in $(seq 100); do grep -q ready "$scratch/cpu.out" && break; sleep 0.05; done
}
pg_cpu_stop() {
  local pid
  pg=n/a
  [[ -n $postmaster ]] || return 0
  pid=$(cat "$scratch/cpu.pid")
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  rm -f "$scratch/cpu.pid"
  pg=$(tail -n 1 "$scratch/cpu.out")
  [[ $pg =~ ^[0-9]+$ ]] || pg=n/a
}
# design_ms TICKS COUNT: ms_per, n/a without the backends' figure.
design_ms() { if [[ $1 == n/a || $1 == *n/a ]]; then echo n/a; else ms_per "$1" "$2"; fi; }

# http_run WHO CONNS: 3 s of warm-up, then the measured run, with ok_rps=
# (2xx a second), machine_ms= (the machine's CPU a booking), own_ms= (the
# server's) and design_ms= (the server's and its PostgreSQL backends').
http_run() {
  local who=$1 c=$2 line m0 o0 m1 o1 pg ok pids db=bookd_side
  pids=$bookd_pid
  [[ $who == peer ]] && pids="$peer_pid $peer_workers" db=booking
  wrk_once "$who" "$c" "$warm" "$(next_epoch)" >/dev/null
  pg_cpu_start "$db"
  # shellcheck disable=SC2086 # the list is space-separated on purpose
  m0=$(machine_ticks) o0=$(own_ticks $pids)
  line=$(wrk_once "$who" "$c" "$seconds" "$(next_epoch)")
  # shellcheck disable=SC2086
  m1=$(machine_ticks) o1=$(own_ticks $pids)
  pg_cpu_stop
  [[ $pg != n/a ]] && pg=$(( o1 - o0 + pg ))
  ok=$(( $(field requests "$line") - $(field non2xx "$line") ))
  echo "$line ok_rps=$(awk -v n="$ok" -v d="$(field duration_us "$line")" 'BEGIN { printf "%.0f", n / (d / 1e6) }')" \
    "machine_ms=$(ms_per $(( m1 - m0 )) "$ok") own_ms=$(ms_per $(( o1 - o0 )) "$ok")" \
    "design_ms=$(design_ms "$pg" "$ok")"
}
# fn_run WHO CLIENTS: 3 s of warm-up, then the measured pgbench run of WHO's
# booking function: "tps= machine_ms= design_ms= failed=" (design_ms: its
# backends' CPU a booking, their connection included; pgbench's own left out).
fn_once() {
  local who=$1 c=$2 s=$3
  if [[ $who == peer ]]; then
    "$bin/pgbench" -n -M prepared -c "$c" -j 2 -T "$s" -D n=0 -D nc="$c" -D base="$(next_epoch)" \
      -f "$scratch/app/pgb_function.sql" "$(conninfo booking)" 2>&1
  else
    "$bin/pgbench" -n -M prepared -c "$c" -j 2 -T "$s" -D orgs="$orgs" -D n=0 -D nc="$c" \
      -D base="$(psql_on "$bookd_url" -c 'SELECT bench_next_base()')" \
      -f bench/pg_book.sql "$bookd_url" 2>&1
  fi
}
fn_run() {
  local who=$1 c=$2 out m0 m1 n tps pg db=bookd_side
  [[ $who == peer ]] && db=booking
  fn_once "$who" "$c" "$warm" >/dev/null || true
  sleep 0.2 # the warm-up's backends gone
  pg_cpu_start "$db"
  m0=$(machine_ticks)
  out=$(fn_once "$who" "$c" "$seconds") || true
  m1=$(machine_ticks)
  pg_cpu_stop
  tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
  n=$(sed -n 's/.*actually processed: \([0-9]*\).*/\1/p' <<<"$out")
  [[ -n $tps ]] || { echo "bench/peer.sh: pgbench ($who, $c clients) did not finish:" >&2; tail -n 5 <<<"$out" >&2; }
  printf 'tps=%.0f machine_ms=%s design_ms=%s failed=%s\n' "${tps:-0}" "$(ms_per $(( m1 - m0 )) "${n:-0}")" \
    "$(design_ms "$pg" "${n:-0}")" "$(grep -c 'aborted\|ERROR' <<<"$out" || true)"
}
# settle: autovacuum's and the checkpointer's work done before a phase, on
# both databases, so that it does not land on whichever design runs then.
# bookd's worker first delivers what the pgbench runs left (bench/outbox.sh):
# the next HTTP runs would pay for it.
settle() {
  outbox_drained "$bookd_base"
  psql_on "$(conninfo booking)" -c "VACUUM (ANALYZE)" >/dev/null
  psql_on "$bookd_url" -c "VACUUM (ANALYZE)" >/dev/null
  psql_on "$bookd_url" -c "CHECKPOINT" >/dev/null 2>&1 || true
}

declare -A rps p50 p99 bad mms own dms tps fmms fdms ffail
# measure PHASE: BENCH_RUNS rounds of every measurement, into the arrays
# above under keys PHASE<who><level> ("" the fresh databases, "h" with
# history).
measure() {
  local ph=$1 r c who line k
  for who in peer bookd; do
    for c in "${levels[@]}"; do
      k=$ph$who$c
      rps[$k]='' p50[$k]='' p99[$k]='' mms[$k]='' own[$k]='' dms[$k]=''
      tps[$k]='' fmms[$k]='' fdms[$k]='' bad[$k]=0 ffail[$k]=0
    done
  done
  for r in $(seq "$rounds"); do
    settle
    for c in "${levels[@]}"; do
      for who in peer bookd; do
        echo "bench/peer.sh: ${ph:+with history, }round $r of $rounds, HTTP, $c connections, $who" >&2
        line=$(http_run "$who" "$c") k=$ph$who$c
        rps[$k]+="$(field ok_rps "$line") " p50[$k]+="$(field p50_ms "$line") "
        p99[$k]+="$(field p99_ms "$line") " mms[$k]+="$(field machine_ms "$line") "
        own[$k]+="$(field own_ms "$line") " dms[$k]+="$(field design_ms "$line") "
        bad[$k]=$(( ${bad[$k]} + $(field non2xx "$line") + $(field sockerr "$line") ))
      done
    done
    settle
    for c in "${levels[@]}"; do
      for who in peer bookd; do
        echo "bench/peer.sh: ${ph:+with history, }round $r of $rounds, function alone, $c clients, $who" >&2
        line=$(fn_run "$who" "$c") k=$ph$who$c
        tps[$k]+="$(field tps "$line") " fmms[$k]+="$(field machine_ms "$line") "
        fdms[$k]+="$(field design_ms "$line") "
        ffail[$k]=$(( ${ffail[$k]} + $(field failed "$line") ))
      done
    done
  done
}
measure ""

# The overlap race, through each design's HTTP API, then counted in SQL.
echo "bench/peer.sh: overlap race, $pairs pairs each" >&2
race_peer=$(timeout 300 node bench/peer.mjs race peer "$peer_base" "$pairs" 2035-01-01)
race_bookd=$(timeout 300 node bench/peer.mjs race bookd "$bookd_base" "$pairs" 2035-01-01 "$scratch/orgs.txt")
window="scheduled_at >= '2035-01-01' AND scheduled_at < '2040-01-01' AND status = 'confirmed'"
double_peer=$(psql_on "$(conninfo booking)" -c "
  WITH r AS (SELECT * FROM appointments WHERE $window AND deleted_at IS NULL)
  SELECT count(*) FROM r a JOIN r b ON b.org_id = a.org_id AND a.id < b.id
   WHERE a.scheduled_at < b.scheduled_at + make_interval(mins => b.duration_minutes)
     AND b.scheduled_at < a.scheduled_at + make_interval(mins => a.duration_minutes)")
double_bookd=$(psql_on "$bookd_url" -c "
  WITH r AS (SELECT * FROM appointments WHERE $window)
  SELECT count(*) FROM r a JOIN r b
      ON b.org_id = a.org_id AND b.provider_id = a.provider_id AND a.id < b.id
   WHERE a.scheduled_at < b.ends_at AND b.scheduled_at < a.ends_at")

# The same measurements again once every organization of both databases
# holds PEER_HISTORY past appointments more (hourly from 2020 on, before the
# race's and the loads' years): a practice's calendar keeps its history. The
# original's overlap check reads every earlier appointment of the
# organization; bookd's GiST probe and its indexes do not grow with them.
# bookd's are inserted into its table directly, with no audit entries (the
# audit log's size costs a booking nothing either way).
phases=("")
if (( history > 0 )); then
  echo "bench/peer.sh: $history past appointments an organization, in both databases" >&2
  psql_on "$(conninfo booking)" -c "
    INSERT INTO appointments (org_id, contact_id, scheduled_at, duration_minutes)
    SELECT c.org_id, c.id, timestamptz '2020-01-01' + s * interval '1 hour', 30
      FROM (SELECT DISTINCT ON (org_id) org_id, id FROM contacts ORDER BY org_id, id) c,
           generate_series(1, $history) s" -c "VACUUM ANALYZE appointments" >/dev/null
  psql_on "$bookd_url" -c "
    INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                              ends_at, buffered_start, buffered_end)
    SELECT o.org_id, o.provider_id, o.contact_id, t, 30, t + interval '30 minutes', t,
           t + interval '30 minutes'
      FROM bench_orgs o, generate_series(1, $history) s,
           LATERAL (SELECT timestamptz '2020-01-01' + s * interval '1 hour' AS t) x" \
    -c "VACUUM ANALYZE appointments" >/dev/null
  per_org() { psql_on "$1" -c "SELECT round(count(*)::numeric / count(DISTINCT org_id)) FROM appointments"; }
  rows_peer=$(per_org "$(conninfo booking)") rows_bookd=$(per_org "$bookd_url")
  measure h
  phases+=(h)
fi

# Last, both databases emptied: each design's function alone on calendars
# that start empty, where the original's overlap check is at its cheapest,
# next to copies of bookd's database that each lack one guarantee
# (bench/guarantees.sh; bench/HISTORY.md, step 59). The servers stop first:
# a database is copied only while nothing is connected to it.
stop_servers
echo "bench/peer.sh: empty calendars, each guarantee's cost (bench/guarantees.sh)" >&2
guarantee_seconds=$(( seconds < 5 ? seconds : 5 ))
# A failure here costs this table only, not the section's other figures.
if ! PATH=$bin:$PATH DATABASE_URL=$bookd_url PEER_URL=$(conninfo booking) BENCH_ORGS=$orgs \
    ROUNDS=$rounds BENCH_SECONDS=$guarantee_seconds bench/guarantees.sh \
    >"$scratch/guarantees.out" 2>"$scratch/guarantees.log"; then
  echo "bench/peer.sh: bench/guarantees.sh failed; its table is left out:" >&2
  cat "$scratch/guarantees.log" >&2
  : >"$scratch/guarantees.out"
fi
# guarantee SIDE CLIENTS FIELD: fn_vs_peer.sh's SUMMARY figure (1 the median
# tps, 2 ÷ the original, 3 the CPU ms a booking, 4 each round's ratio).
guarantee() {
  awk -v s="$1" -v c="$2" -v f="$3" '$1 == "SUMMARY" && $2 == s && $3 == c {
    v = $(3 + f); gsub(",", " / ", v); print v }' "$scratch/guarantees.out"
}

declare -A m_rps m_p50 m_p99 m_mms m_own m_dms m_tps m_fmms m_fdms
for ph in "${phases[@]}"; do
  for who in peer bookd; do
    for c in "${levels[@]}"; do
      k=$ph$who$c
      # shellcheck disable=SC2086 # the lists are space-separated on purpose
      m_rps[$k]=$(median ${rps[$k]}) m_p50[$k]=$(median ${p50[$k]}) m_p99[$k]=$(median ${p99[$k]})
      # shellcheck disable=SC2086,SC2034 # (read through two and two_ratio)
      m_mms[$k]=$(median ${mms[$k]}) m_own[$k]=$(median ${own[$k]}) m_dms[$k]=$(median ${dms[$k]})
      # shellcheck disable=SC2086,SC2034
      m_tps[$k]=$(median ${tps[$k]}) m_fmms[$k]=$(median ${fmms[$k]}) m_fdms[$k]=$(median ${fdms[$k]})
    done
  done
done
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else print "n/a" }'; }
meets() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "n/a" && v + 0 >= t ? "met" : "not met") }'; }

sec=$scratch/section.md
# two NAME: "original / bookd" style pairs of the 16 and 64 figures of NAME.
two() { local -n m=$1; echo "${m[${2}16]} / ${m[${2}64]}"; }
# two_ratio NAME [PHASE]: bookd ÷ original of NAME at 16 and at 64.
two_ratio() {
  local -n m=$1
  echo "$(ratio "${m[${2:-}bookd16]}" "${m[${2:-}peer16]}") / $(ratio "${m[${2:-}bookd64]}" "${m[${2:-}peer64]}")"
}
# rate_rows PHASE: the table's rows of bookings over HTTP, each level.
rate_rows() {
  local c
  for c in "${levels[@]}"; do
    echo "| bookings/s over HTTP, $c connections | ${m_rps[$1peer$c]} | ${m_rps[$1bookd$c]} | $(ratio "${m_rps[$1bookd$c]}" "${m_rps[$1peer$c]}") |"
    echo "| p50 / p99 ms, $c connections | ${m_p50[$1peer$c]} / ${m_p99[$1peer$c]} | ${m_p50[$1bookd$c]} / ${m_p99[$1bookd$c]} | |"
  done
  echo "| non-2xx answers and socket errors, 16 / 64 connections (all runs) | $(two bad "$1peer") | $(two bad "$1bookd") | |"
  echo "| CPU ms a booking over HTTP (server + PostgreSQL), 16 / 64 | $(two m_dms "$1peer") | $(two m_dms "$1bookd") | $(two_ratio m_dms "$1") |"
}
# fn_rows PHASE: the table's rows of the functions alone, each level.
fn_rows() {
  local c
  for c in "${levels[@]}"; do
    echo "| function alone (pgbench), bookings/s, $c clients | ${m_tps[$1peer$c]} | ${m_tps[$1bookd$c]} | $(ratio "${m_tps[$1bookd$c]}" "${m_tps[$1peer$c]}") |"
  done
  echo "| CPU ms a booking, function alone (PostgreSQL), 16 / 64 | $(two m_fdms "$1peer") | $(two m_fdms "$1bookd") | $(two_ratio m_fdms "$1") |"
}
# target_rows PHASE: bookd ÷ original over HTTP and of the functions
# against issue 19's targets, each round's own ratio in brackets.
target_rows() {
  local h16 h64 f16 f64
  h16=$(ratio "${m_rps[$1bookd16]}" "${m_rps[$1peer16]}") h64=$(ratio "${m_rps[$1bookd64]}" "${m_rps[$1peer64]}")
  f16=$(ratio "${m_tps[$1bookd16]}" "${m_tps[$1peer16]}") f64=$(ratio "${m_tps[$1bookd64]}" "${m_tps[$1peer64]}")
  echo "| bookd HTTP ÷ original HTTP | $h16 ($(pair_ratios "${rps[$1bookd16]}" "${rps[$1peer16]}")) | $h64 ($(pair_ratios "${rps[$1bookd64]}" "${rps[$1peer64]}")) | ≥ 1.5 | 16: $(meets "$h16" 1.5); 64: $(meets "$h64" 1.5) |"
  echo "| bookd function ÷ original function | $f16 ($(pair_ratios "${tps[$1bookd16]}" "${tps[$1peer16]}")) | $f64 ($(pair_ratios "${tps[$1bookd64]}" "${tps[$1peer64]}")) | ≥ 1.0 | 16: $(meets "$f16" 1.0); 64: $(meets "$f64" 1.0) |"
}
{
  echo "$begin_mark"
  echo "$title"
  echo
  echo "The original design (../shared/peer-seed: Node.js, Express and node-postgres in 2 cluster"
  echo "workers with a pool of 20 connections each; its SQL function takes one advisory try-lock"
  echo "keyed on the exact start time, looks for an overlap with a SELECT, inserts the"
  echo "appointment and an audit row) next to bookd (its pool of 16), on one PostgreSQL"
  echo "$pg_version server, each in its own database made fresh for the run. Measured on"
  echo "$(date -u +%Y-%m-%d), $(nproc) cores shared with other work, by \`$command_line\`."
  echo "Each measurement lasts $seconds s after $warm s of the same load as warm-up; the two designs"
  echo "take turns (original, bookd, original, bookd, ...) for $rounds rounds; figures are medians,"
  echo "counts are totals. Over HTTP both through wrk -t2 --timeout 10s, every request a distinct"
  echo "30-minute slot (the original's distinct.lua over its 1,000 organizations, bookd's"
  echo "bench/book.lua over $orgs); the functions alone through pgbench -M prepared -j2"
  echo "(the original's pgb_function.sql, bookd's bench/pg_book.sql), both filling each"
  echo "organization's calendar forward, one distinct slot after another."
  echo
  echo "CPU a booking is read from /proc: the server's processes (bookd; Node's primary and"
  echo "workers) and the design's PostgreSQL backends, during the measured run, over the"
  echo "bookings made (bookd's include its delivery worker's, which fans out every booking's"
  echo "event); the load generator is left out. The machine's CPU a booking (all busy"
  echo "time in /proc/stat, steal left out) is the figure bench/run.sh uses; on this machine it"
  echo "also counts whatever else ran meanwhile, so it is the noisier one."
  echo
  echo "| | original design | bookd | bookd ÷ original |"
  echo "|---|---|---|---|"
  rate_rows ""
  echo "| of which the server's own, 16 / 64 | $(two m_own peer) | $(two m_own bookd) | $(two_ratio m_own) |"
  fn_rows ""
  echo "| double bookings in the overlap race ($pairs pairs) | $double_peer ($(pct "$double_peer" "$pairs")) | $double_bookd ($(pct "$double_bookd" "$pairs")) | |"
  echo "| machine ms a booking over HTTP, 16 / 64 | $(two m_mms peer) | $(two m_mms bookd) | $(two_ratio m_mms) |"
  echo "| machine ms a booking, function alone, 16 / 64 | $(two m_fmms peer) | $(two m_fmms bookd) | $(two_ratio m_fmms) |"
  echo
  echo "Against the targets of issue 19 (ratios of the medians; each round's own in brackets):"
  echo
  echo "| ratio | 16 | 64 | target | |"
  echo "|---|---|---|---|---|"
  o16=$(ratio "${m_rps[bookd16]}" "${m_tps[bookd16]}") o64=$(ratio "${m_rps[bookd64]}" "${m_tps[bookd64]}")
  target_rows ""
  echo "| bookd HTTP ÷ bookd function | $o16 ($(pair_ratios "${rps[bookd16]}" "${tps[bookd16]}")) | $o64 ($(pair_ratios "${rps[bookd64]}" "${tps[bookd64]}")) | ≥ 0.95 | 16: $(meets "$o16" 0.95); 64: $(meets "$o64" 0.95) |"
  if (( history > 0 )); then
    echo
    echo "### With a calendar's history: $history past appointments an organization more"
    echo
    echo "The same measurements, interleaved the same way, once every organization of both"
    echo "databases holds $history past appointments more (hourly from 2020 on; bookd's written"
    echo "into its table directly): $rows_peer an organization in the original's database and"
    echo "$rows_bookd in bookd's when the pass began, a practice with one provider a few months"
    echo "in. The original looks for an overlap among every appointment of the organization"
    echo "that starts before the new one ends, so each booking reads the whole history, in its"
    echo "index and in its table; bookd probes its exclusion constraint's GiST index, whose cost"
    echo "grows with the logarithm of the table, not with the calendar's length. The pass above"
    echo "is where the original is at its cheapest: a few hundred appointments an"
    echo "organization, all made by the benchmark itself."
    echo
    echo "| with history | original design | bookd | bookd ÷ original |"
    echo "|---|---|---|---|"
    rate_rows h
    fn_rows h
    echo
    echo "| ratio, with history | 16 | 64 | target | |"
    echo "|---|---|---|---|---|"
    target_rows h
  fi
  echo
  echo "### On calendars that start empty: what each guarantee costs"
  echo
  echo "Each design's function alone again, once both databases are emptied: here the"
  echo "original's overlap check has nothing to read. Beside bookd, copies of its database that"
  echo "each lack one guarantee (bench/guarantees.sh; measurement only, none of them is a"
  echo "booking DESIGN.md allows): the audit entry, which is also the event its deliveries"
  echo "start from; the bucket locks; the exclusion constraint; the foreign keys of"
  echo "appointments and audit entries; and all four. pgbench as above, $guarantee_seconds s a run,"
  echo "$rounds round$( (( rounds == 1 )) || echo s), every side in turn."
  echo
  if grep -q '^SUMMARY' "$scratch/guarantees.out"; then
    echo "| side | ÷ original, 16 clients | ÷ original, 64 clients | bookings/s, 16 / 64 | CPU ms a booking (PostgreSQL), 16 / 64 |"
    echo "|---|---|---|---|---|"
    for g in peer:"the original design" book:"bookd, every guarantee" no_audit:"bookd without the audit entry" \
             no_locks:"bookd without the bucket locks" no_excl:"bookd without the exclusion constraint" \
             no_fkeys:"bookd without the foreign keys" no_four:"bookd without all four"; do
      s=${g%%:*}
      echo "| ${g#*:} | $(guarantee "$s" 16 2) ($(guarantee "$s" 16 4)) | $(guarantee "$s" 64 2) ($(guarantee "$s" 64 4)) | $(guarantee "$s" 16 1) / $(guarantee "$s" 64 1) | $(guarantee "$s" 16 3) / $(guarantee "$s" 64 3) |"
    done
  else
    echo "Not measured in this run: bench/guarantees.sh failed (its log is in the run's output)."
  fi
  echo
  echo "The original's cost grows with every appointment an organization keeps, bookd's does"
  echo "not: on these empty calendars the original is at its best, in the first pass it is"
  echo "on its way up, and with history it is far behind. The two designs' functions cross"
  echo "at 250-300 appointments an organization (bench/HISTORY.md, step 59)."
  echo
  echo "The overlap race: $pairs pairs, each a booking at 14:00 for 60 minutes and one at 14:30"
  echo "for 30 minutes for the same organization (in bookd, the same provider) on a day of their"
  echo "own, sent at the same moment on two open connections through each design's HTTP API, one"
  echo "pair after another; overlapping confirmed appointments counted in SQL afterwards."
  echo "Original: \`$race_peer\`; its lock covers the exact start time only, so the two"
  echo "take different locks and neither sees the other's uncommitted row. bookd: \`$race_bookd\`."
  echo "pgbench runs with a failed transaction: original $(( ffail[peer16] + ffail[peer64] + ${ffail[hpeer16]:-0} + ${ffail[hpeer64]:-0} )), bookd $(( ffail[bookd16] + ffail[bookd64] + ${ffail[hbookd16]:-0} + ${ffail[hbookd64]:-0} ))."
  echo
  echo "What a booking does differs beyond the race: the original service takes the organization"
  echo "and contact from the request body with no credential and writes the appointment and an"
  echo "audit row; bookd checks the API key, takes its locks, and writes the appointment and its"
  echo "audit entry, which is also the event its deliveries start from, in one transaction. The original's pgbench script computes its"
  echo "lock key in SQL (sha256), which its service computes in Node. distinct.lua builds each"
  echo "request with wrk.format, bench/book.lua from strings prepared per organization: wrk's"
  echo "own CPU is in neither CPU figure, and in both machine figures."
  echo "$end_mark"
} >"$sec"
put_section "$sec"
cat "$sec"
