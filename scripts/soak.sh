#!/usr/bin/env bash
# make soak: the long variants of tests/db/db_faults_test.sh and
# tests/db/process_faults_test.sh. For each kind of fault, SOAK_SECONDS
# (default 60) of booking load (tests/db/fault_load.mjs: 6 clients, distinct
# and overlapping slots, an Idempotency-Key per request) with that fault
# injected again and again:
#   db_fast       PostgreSQL restarted with -m fast: `pg_ctl restart`, or
#                 stopped for 1, 3 or 6 s and started (in turn)
#   db_immediate  the same with -m immediate (crash recovery on the way back)
#   db_terminate  every backend of bookd ended with pg_terminate_backend
#   pool          the pool held by slow queries (bookings waiting on a
#                 locked row) for 2 s
#   kill9         bookd killed with SIGKILL and started again on its port
#   sigterm       bookd stopped with SIGTERM and started again on its port
# Afterwards the checker holds every answer against the database (every 201
# stored, nothing stored that was not answered 201 or in doubt, in-doubt
# requests replayed with their key, no overlap, every event in the outbox);
# for kill9 and sigterm, whose bookd sends every booking's webhook to a
# local receiver, every event must arrive. Prints a table and writes it to
# bench/RELIABILITY.md (SOAK_OUT). A private durable PostgreSQL cluster,
# made for the run and removed after; bookd is build/bookd as it is
# (SOAK_BOOKD). Every process listens on 127.0.0.1 only, is stopped by its
# PID, and every wait is bounded.
#   scripts/soak.sh                     SOAK_SECONDS=60 SOAK_KINDS="db_fast ..."
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/pglib.sh

seconds=${SOAK_SECONDS:-60}
kinds=(${SOAK_KINDS:-db_fast db_immediate db_terminate pool kill9 sigterm})
bookd=$root/${SOAK_BOOKD:-build/bookd}
out=${SOAK_OUT:-bench/RELIABILITY.md}
here=$root/tests/db
[[ -x "$bookd" ]] || { echo "soak: $bookd is missing (make all)" >&2; exit 1; }
work=$(mktemp -d)
source "$here/lib.sh" # alive, stop_pid, q, until_db, release_holder
mkdir -p .bookd
pgdir=$(mktemp -d "$root/.bookd/soak.XXXXXX")
bin=$(pg_bindir)
started=()
cleanup() {
  local p
  for p in "${started[@]}"; do alive "$p" && stop_pid "$p"; done
  pg_stop "$pgdir" 2>/dev/null
  rm -rf "$pgdir"
  if [[ -n "${SOAK_KEEP:-}" ]]; then echo "soak: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
say() { echo "soak: [$(date +%T)] $*" >&2; }
now_ms() { date +%s%3N; }

pg_start "$pgdir" durable >/dev/null || { say "could not start PostgreSQL"; exit 1; }
export DATABASE_URL
DATABASE_URL=$(pg_conninfo "$pgdir")
export BOOKD_TEST_APP_USER=bookd_app # made by pg_start; bookd serves as it
"$bookd" migrate >/dev/null 2>&1 || { say "migrate failed"; exit 1; }
pg_ctl_() { pg_as_owner "$bin/pg_ctl" -D "$pgdir/data" "$@" >/dev/null 2>&1; }
app_name=bookd-soak
token=soak-token
export BOOKD_SECRET_KEY=${BOOKD_SECRET_KEY:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}

# The webhook receiver, for kill9 and sigterm.
node "$here/webhook_receiver.mjs" "$work/ports" 2>"$work/receiver.log" &
started+=($!)
for _ in $(seq 100); do [[ -s "$work/ports" ]] && break; sleep 0.1; done
read -r hook_port control_port <"$work/ports"
rcv() { curl -s --max-time 10 -X POST "http://127.0.0.1:$control_port$1" -d "${2:-}"; }

# start_api LOG PORT [VAR=VALUE...]: bookd serve on 127.0.0.1:PORT (0: a
# free one); sets `api`, `base`, `port`.
start_api() {
  local log=$1 want=$2; shift 2
  env BOOKD_LISTEN="127.0.0.1:$want" DATABASE_URL="$(app_url) application_name=$app_name" \
    BOOKD_ADMIN_TOKEN=$token BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 \
    BOOKD_WEBHOOK_ALLOW_PRIVATE=true BOOKD_OUTBOX_POLL_MS=200 \
    BOOKD_WEBHOOK_RETRY_SCHEDULE=0,1,1,2,2,5,5,10 BOOKD_DELIVERY_LEASE_MS=2000 \
    "$@" "$bookd" serve 2>"$log" &
  api=$!
  started+=("$api")
  await_base "$log" "$api"
  port=${base##*:}
}
http() {
  local args=(-s -o "$work/body" -w '%{http_code}' --max-time 10 -X "$1" "$base$2"
              -H "Authorization: Bearer $key")
  [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}
# soak_org NAME [HOOK_PATH]: new_org (tests/db/lib.sh), and the receiver
# told to expect HOOK_PATH's webhooks.
soak_org() {
  new_org "$@" || say "$kind: POST /api/orgs answered $(head -c 300 "$work/body")"
  if [[ -n "${2:-}" ]]; then
    rcv /reset >/dev/null
    rcv /config "{\"path\":\"$2\",\"secret\":\"$secret\",\"delayMinMs\":5,\"delayMaxMs\":30,\"workers\":[]}" >/dev/null
  fi
}
# ready_since MS: waits (15 s at most) for /ready 200; appends the time from MS.
ready_since() {
  for _ in $(seq 150); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/ready") == 200 ]]; then
      echo $(( $(now_ms) - $1 )) >>"$work/$kind.ready"
      return 0
    fi
    sleep 0.1
  done
  echo -1 >>"$work/$kind.ready"
  return 1
}
# alive_or_crash: bookd still runs, else it crashed: counted, started again.
alive_or_crash() {
  alive "$api" && return 0
  wait "$api" 2>/dev/null
  echo "$kind: bookd exited by itself (status $?)" >>"$work/crashes"
  crashes=$(( crashes + 1 ))
  start_api "$work/$kind.api.$(( ++instance )).log" "$port" "${settings[@]}"
}
max_median() { # max / median of the numbers on stdin (-1: a never)
  sort -n | awk '{ a[n++] = $1 } END { if (!n) { print "–"; exit }
    if (a[0] < 0) { print "never"; exit } printf "%d / %d", a[n - 1], a[int((n - 1) / 2)] }'
}

# ---------------------------------------------------------------------------
fault_db_restart() { # MODE: restart, or stop for 1, 3, 6 s and start, in turn
  local mode=$1 d=${downs[$(( faults % ${#downs[@]} ))]} down up
  down=$(now_ms)
  if [[ $d == 0 ]]; then
    pg_ctl_ -m "$mode" -l "$pgdir/run/postgres.log" -w -t 60 restart
  else
    pg_ctl_ -m "$mode" -w -t 60 stop
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/ready") == 503 ]] || probe_errors=$(( probe_errors + 1 ))
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/health") == 200 ]] || probe_errors=$(( probe_errors + 1 ))
    sleep "$d"
    pg_ctl_ -l "$pgdir/run/postgres.log" -w -t 60 start
  fi
  up=$(now_ms)
  echo "$kind $down $up" >>"$work/$kind.faults"
  ready_since "$up"
  until_booked_since "$up"
}
fault_terminate() {
  local at; at=$(now_ms)
  q "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
     WHERE application_name = '$app_name' AND pid <> pg_backend_pid()" >/dev/null
  echo "$kind $at $at" >>"$work/$kind.faults"
  ready_since "$at"
  until_booked_since "$at"
}
fault_pool() { # every connection of the pool (4) waits on a locked row for 2 s
  local i down up pids=()
  psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT 1 FROM contacts WHERE id = '$slow' FOR UPDATE;
    SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
  holder=$!
  started+=("$holder")
  until_db "$holder_sleeping"
  for i in 1 2 3 4; do
    at=$(date -u -d "2060-01-01 00:00 UTC + $(( faults * 4 + i )) hours" +%Y-%m-%dT%H:%M:%SZ)
    curl -s -o /dev/null -w '%{http_code} %header{x-request-id}\n' --max-time 30 -X POST "$base/api/appointments" \
      -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
      -d "{\"contactId\":\"$slow\",\"scheduledAt\":\"$at\",\"durationMinutes\":30}" \
      >>"$work/pool.slow" &
    pids+=($!)
    # One after the other, each seen waiting before the next: connections
    # accepted together by one HTTP thread would be served in turn.
    until_db "(SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'transactionid') >= $i"
  done
  down=$(now_ms)
  sleep 2
  release_holder
  up=$(now_ms)
  wait "${pids[@]}"
  echo "$kind $down $up" >>"$work/$kind.faults"
  until_booked_since "$up"
}
fault_kill9() {
  local down up
  down=$(now_ms)
  { stop_pid "$api" KILL; } 2>/dev/null
  [[ $rc == 137 ]] || { echo "$kind: bookd ended with $rc on SIGKILL" >>"$work/crashes"; crashes=$(( crashes + 1 )); }
  sleep 0.3
  start_api "$work/$kind.api.$(( ++instance )).log" "$port" "${settings[@]}"
  up=$(now_ms)
  echo "$kind $down $up" >>"$work/$kind.faults"
  until_booked_since "$up"
}
fault_sigterm() {
  local down up
  down=$(now_ms)
  stop_pid "$api"
  echo $(( $(now_ms) - down )) >>"$work/sigterm.exit"
  [[ $rc == 0 ]] || { echo "$kind: bookd exited $rc on SIGTERM" >>"$work/crashes"; crashes=$(( crashes + 1 )); }
  start_api "$work/$kind.api.$(( ++instance )).log" "$port" "${settings[@]}"
  up=$(now_ms)
  echo "$kind $down $up" >>"$work/$kind.faults"
  until_booked_since "$up"
}

# ---------------------------------------------------------------------------
rows=()
notes=()
findings=()
builds=() # the binary's time at the start of each kind (others may rebuild it)
year=2050
total_start=$(date +%s)
for kind in "${kinds[@]}"; do
  progress_file=$work/$kind.progress
  say "$kind: $seconds s of load with faults"
  builds+=("$kind: $(date -u -r "$bookd" '+%H:%M:%S')")
  crashes=0
  faults=0
  probe_errors=0
  instance=0
  downs=(0 1 3 6)
  settings=(BOOKD_POOL_SIZE=8 BOOKD_POOL_WAIT_MS=500)
  hook=
  case $kind in
    pool) settings=(BOOKD_POOL_SIZE=4 BOOKD_POOL_WAIT_MS=500 BOOKD_LOCK_TIMEOUT_MS=10000) ;;
    kill9 | sigterm) hook=/hook/$kind ;;
  esac
  start_api "$work/$kind.api.0.log" 0 "${settings[@]}"
  [[ -n "$base" ]] || { say "$kind: bookd did not start"; cat "$work/$kind.api.0.log" >&2; exit 1; }
  soak_org "Soak $kind" $hook
  [[ $org_id =~ ^[0-9a-f-]{36}$ && $contact =~ ^[0-9a-f-]{36}$ ]] ||
    { say "$kind: could not set up an organization"; grep -E '"level":"(warn|error)"' "$work/$kind.api.0.log" | head -n 3 >&2; exit 1; }
  if [[ $kind == pool ]]; then
    http POST /api/contacts '{"name":"Slow Patient"}' >/dev/null
    slow=$(jq -r .id "$work/body")
  fi
  rm -f "$work/$kind.stop"
  year=$(( year + 1 ))
  node "$here/fault_load.mjs" load --base "$base" --key "$key" --contact "$contact" \
    --providers "$providers" --start "$year-01-01T00:00:00Z" --clients 6 \
    --seconds $(( seconds + 60 )) --timeout-ms 10000 --backoff-ms 100 \
    --out "$work/$kind.jsonl" --progress "$work/$kind.progress" --stop-file "$work/$kind.stop" \
    --tag "$kind" 2>"$work/$kind.load.err" &
  load=$!
  started+=("$load")
  end=$(( $(date +%s) + seconds ))
  until_booked_since "$(now_ms)"
  # A fault, then at least 2 s of steady load, while the time lasts.
  while (( $(date +%s) + 2 < end )); do
    sleep 2
    alive_or_crash
    case $kind in
      db_fast) fault_db_restart fast ;;
      db_immediate) fault_db_restart immediate ;;
      db_terminate) fault_terminate ;;
      *) "fault_$kind" ;;
    esac
    faults=$(( faults + 1 ))
  done 2>/dev/null
  while (( $(date +%s) < end )); do sleep 0.2; done
  touch "$work/$kind.stop"
  for _ in $(seq 200); do alive "$load" || break; sleep 0.1; done
  wait "$load"
  alive_or_crash
  node "$here/fault_load.mjs" check --db "$DATABASE_URL" --org "$org_id" --records "$work/$kind.jsonl" \
    --base "$base" --key "$key" --faults "$work/$kind.faults" --summary "$work/$kind.summary" \
    --ids-out "$work/$kind.ids" --rids-out "$work/$kind.rids" --outbox --label "$kind" \
    >"$work/$kind.check" 2>&1
  sed 's/^# /soak: /' "$work/$kind.check" >&2
  unset "${!c_@}" 2>/dev/null
  while IFS='=' read -r name value; do
    [[ $name =~ ^[a-z0-9_]+$ ]] && printf -v "c_$name" '%s' "$value"
  done <"$work/$kind.summary"
  v() { local n="c_$1"; echo "${!n:-?}"; }
  delivered="–"
  if [[ -n "$endpoint" ]]; then
    want=$(grep -c . "$work/$kind.ids")
    for _ in $(seq 300); do
      st=$(rcv /stats "{\"expect\":\"$work/$kind.ids\"}")
      [[ $(jq -r .lost <<<"$st") == 0 ]] && break
      sleep 0.2
    done
    delivered="$(jq -r .acceptedAppointments <<<"$st") of $want ($(jq -r .duplicates <<<"$st") duplicates, $(jq -r .lost <<<"$st") lost)"
  fi
  # Answers bookd logged that never reached the client (cut off): only
  # meaningful where bookd was not killed.
  cut="–"
  if [[ $kind != kill9 ]]; then
    cat "$work/$kind".api.*.log | grep '"event":"http.request"' |
      jq -r 'select(.route == "/api/appointments" and .method == "POST") | .requestId' | sort -u >"$work/$kind.logged"
    { jq -r '.rid // empty' "$work/$kind.jsonl"; cat "$work/$kind.rids"
      [[ $kind == pool ]] && awk '{print $2}' "$work/pool.slow"; } | sort -u >"$work/$kind.received"
    cut=$(comm -23 "$work/$kind.logged" "$work/$kind.received" | wc -l)
  fi
  stop_pid "$api"
  (( rc == 0 )) || { echo "$kind: bookd exited $rc on the last SIGTERM" >>"$work/crashes"; crashes=$(( crashes + 1 )); }
  crashes=$(( crashes + $(cat "$work/$kind".api.*.log | grep -c 'AddressSanitizer\|runtime error' || true) ))
  recovery=$(for i in $(seq "${c_faults:-0}"); do v "recovery_$i"; done | max_median)
  ready=$( [[ -s "$work/$kind.ready" ]] && max_median <"$work/$kind.ready" || echo "–")
  doubt="$(v in_doubt) ($(v in_doubt_stored) stored)"
  odd="$(v s500) / $(v other) / $(v timeout)"
  rows+=("| $kind | $(v rate) | $(v faults) | $(v confirmed) | $(v lost) | $doubt | $(v double) | $crashes | $recovery | $ready | $odd | $(v s503_no_retry_after) | $(v lies) | $cut | $delivered |")
  note="$kind: $(v requests) requests in $(v seconds) s ($(v rate201) booked/s): 201 $(v s201), 409 $(v s409) (slot_busy $(v s409_busy)), 503 $(v s503), no answer $(v no_answer) (refused $(v refused), reset $(v reset)); slowest answer $(v max_ms_answer) ms, slowest 503 $(v max_ms_503) ms"
  [[ $kind == db_fast || $kind == db_immediate ]] && note+="; /ready or /health wrong while down: $probe_errors"
  [[ $kind == sigterm && -s "$work/sigterm.exit" ]] && note+="; SIGTERM to exit, max / median: $(max_median <"$work/sigterm.exit") ms"
  [[ $kind == pool ]] && note+="; the slow bookings: $(awk '{print $1}' "$work/pool.slow" | sort | uniq -c | awk '{printf "%s%s ×%s", s, $2, $1; s=", "}')"
  [[ $(v lies) =~ ^[1-9] ]] && note+="; stored though answered otherwise: $(grep -c 'yet stored' "$work/$kind.check") listed by the checker, e.g. $(grep -m1 'yet stored' "$work/$kind.check" | sed 's/^# [a-z0-9_]*: //')"
  notes+=("$note")
  if [[ $(v lies) =~ ^[1-9] ]]; then
    findings+=("$kind: $(v lies) bookings were answered 503 unavailable (\"nothing is written\") and yet stored and confirmed. The database went away after the booking's transaction committed and before bookd read its result; bookd answers every connection lost during the statement with 503. A retry with the same Idempotency-Key gets the stored 201 ($(v lies_retry_201) of $(v lies)); a client that believes the 503 has a booking it was told failed.")
  fi
  if [[ $cut =~ ^[1-9] ]]; then
    findings+=("$kind: $cut answers bookd logged (bookings handled, most of them 201 and stored) never reached their client: the connection was closed under them at shutdown. During the drain bookd keeps taking new requests on connections already open (keep-alive), so the drain ends when the count of requests in flight touches 0 for a moment, or after its 10 s, and closes every connection, some just after their request was handled. New connections meanwhile wait in the listen backlog and are reset at exit.")
  fi
  if [[ $kind == pool && $(v max_ms_503) =~ ^[0-9]+$ ]] && (( $(v max_ms_503) > 900 )); then
    findings+=("pool: with BOOKD_POOL_WAIT_MS=500, a 503 reached its client after up to $(v max_ms_503) ms and an answer after up to $(v max_ms_answer) ms (bookd's own log says 500 ms for each 503): a keep-alive connection served by an HTTP thread that is busy with another request (waiting for the pool, or on the locked row) is not read until that thread is free.")
  fi
  say "$kind: done"
done
total=$(( $(date +%s) - total_start ))

{
  echo "# bookd reliability under faults"
  echo
  echo "Measured by \`make soak\` (scripts/soak.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "$("$bin/postgres" --version | sed 's/postgres (PostgreSQL) /PostgreSQL /') (a private durable cluster), $("$bookd" version 2>/dev/null | head -n 1)"
  echo "built $(date -u -r "$bookd" '+%Y-%m-%d %H:%M UTC'), checkout at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src sql migrations 2>/dev/null || echo ' with changes to src, sql or migrations')."
  if (( $(printf '%s\n' "${builds[@]}" | sed 's/^[^:]*: //' | sort -u | wc -l) > 1 )); then
    echo "build/bookd was rebuilt during the run; each kind ran the one built at (UTC):"
    echo "$(IFS=,; echo "${builds[*]}" | sed 's/,/, /g')."
  fi
  echo "Command: \`SOAK_SECONDS=$seconds scripts/soak.sh\` ($total s in all). For each kind of fault,"
  echo "$seconds s of booking load (tests/db/fault_load.mjs: 6 clients in a closed loop, half"
  echo "of the requests for distinct slots, half for overlapping 30-minute slots of a small"
  echo "shared window, each with an Idempotency-Key of its own; 100 ms pause after a 503 or"
  echo "no answer) while the fault is injected again and again, 2 s of steady load after each"
  echo "recovery. Then the checker holds every answer against the database."
  echo
  echo "| fault kind | load held (answers/s) | faults injected | bookings confirmed | lost | in doubt (stored) | double bookings | crashes | recovery after return, max / median (ms) | /ready 200 after return, max / median (ms) | 500s / other / hung | 503 without Retry-After | stored though answered otherwise | answers cut off | webhooks arrived |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "- **db_fast, db_immediate**: \`pg_ctl restart -m fast|immediate\`, or a stop with that"
  echo "  mode, 1, 3 or 6 s down, and a start, in turn. **db_terminate**: \`pg_terminate_backend\`"
  echo "  of every session of bookd (application_name). **pool**: a pool of 4 whose every"
  echo "  connection waits on a locked row for 2 s (BOOKD_POOL_WAIT_MS=500). **kill9**, **sigterm**:"
  echo "  bookd stopped and started again on its port at once, its delivery worker sending"
  echo "  every booking's webhook to a local receiver."
  echo "- *Recovery after return*: from the database's return (\`pg_ctl start\` done), the end of"
  echo "  the pool's hold, or bookd listening again, to the answer of the first booking started"
  echo "  after it that was answered 201."
  echo "- *Lost*: answered 201 (or 201 on a replay) and not stored and confirmed. *In doubt*: no"
  echo "  answer (connection refused, reset, or 10 s without one); each was replayed with its"
  echo "  key and the answer agreed with the database (stored: a replay of its 201). *Stored"
  echo "  though answered otherwise*: a confirmed appointment whose request was answered 409,"
  echo "  503 or anything but 201. *Answers cut off*: requests bookd logged as answered whose"
  echo "  answer never reached the client. *Crashes*: bookd exiting by itself, or not with 0 on"
  echo "  SIGTERM. *Double bookings*: pairs of confirmed appointments of one provider whose"
  echo "  ranges overlap (SQL, \`tstzrange &&\`)."
  echo
  echo "Per kind:"
  echo
  for n in "${notes[@]}"; do echo "- $n"; done
  if (( ${#findings[@]} )); then
    echo
    echo "What breaks the promise:"
    echo
    for f in "${findings[@]}"; do echo "- $f"; done
  fi
  if [[ -s "$work/crashes" ]]; then
    echo
    echo "Crashes:"
    echo
    sed 's/^/- /' "$work/crashes"
  fi
} >"$work/report.md"
# The fuzzing figures (scripts/fuzz.sh) live below the soak's in the same
# file; a new soak keeps them.
if [[ -f "$out" ]] && grep -q '^## Fuzzing' "$out"; then
  { echo; sed -n '/^## Fuzzing/,$p' "$out"; } >>"$work/report.md"
fi
cp "$work/report.md" "$out"
cat "$work/report.md"
