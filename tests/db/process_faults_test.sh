#!/usr/bin/env bash
# Process faults under a booking load (tests/db/fault_load.mjs), with the
# delivery worker of `bookd serve` sending every booking's webhook to a
# local receiver (tests/db/webhook_receiver.mjs):
#   1. bookd killed with SIGKILL twice in the middle of the load and started
#      again on the same port: afterwards every 201 is stored, nothing is
#      stored that was not answered 201 or in doubt (the requests cut off by
#      the kill, replayed with their key to learn their fate), no two
#      confirmed appointments of a provider overlap, every booking has its
#      event in the outbox, and every event arrives at the receiver (a
#      duplicate only as a retry of the same webhook-id);
#   2. SIGTERM under the load, with two bookings held in flight by a locked
#      row and webhook sends in flight to a slow receiver: the bookings in
#      flight are finished and answered 201, every answer bookd logged
#      reached its client (none cut off), bookd exits 0 within its drain
#      time (10 s), the sends in flight are finished and written back (none
#      left to its lease), and after a restart every event arrives.
# DATABASE_URL (migrated) when set, as scripts/test.sh gives it; else a
# private cluster of its own. Every process listens on 127.0.0.1 only and
# is stopped by its PID; every wait is bounded. Prints TAP; the counts as
# "# " lines.
#   tests/db/process_faults_test.sh BOOKD_BINARY
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/db
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
source "$root/scripts/pglib.sh"
source "$here/lib.sh"

started=()
pgdir=
cleanup() {
  local p
  for p in "${started[@]}"; do alive "$p" && stop_pid "$p"; done
  if [[ -n "$pgdir" ]]; then pg_stop "$pgdir"; rm -rf "$pgdir"; fi
  # PROCESS_FAULTS_KEEP=1 keeps the records, the logs and the counts.
  if [[ -n "${PROCESS_FAULTS_KEEP:-}" ]]; then echo "# kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "1..23"

if [[ -z "${DATABASE_URL:-}" ]]; then
  mkdir -p "$root/.bookd"
  pgdir=$(mktemp -d "$root/.bookd/procfaults.XXXXXX")
  pg_start "$pgdir" throwaway >/dev/null 2>&1
  export DATABASE_URL
  DATABASE_URL=$(pg_conninfo "$pgdir")
  export BOOKD_TEST_APP_USER=bookd_app # made by pg_start
  (cd "$root" && "$bookd" migrate >/dev/null 2>&1)
fi
now_ms() { date +%s%3N; }
token=process-faults-token
secret_key=${BOOKD_SECRET_KEY:-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff}

# start_api LOG PORT [VAR=VALUE...]: bookd serve (with its delivery worker)
# on 127.0.0.1:PORT (0: a free one); sets `api` (its PID), `base` and `port`.
start_api() {
  local log=$1 want=$2; shift 2
  env BOOKD_LISTEN="127.0.0.1:$want" DATABASE_URL="$(app_url)" BOOKD_SECRET_KEY="$secret_key" \
    BOOKD_ADMIN_TOKEN=$token BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 BOOKD_POOL_SIZE=8 \
    BOOKD_WEBHOOK_ALLOW_PRIVATE=true BOOKD_OUTBOX_POLL_MS=200 \
    BOOKD_WEBHOOK_RETRY_SCHEDULE=0,1,1,2,2,5,5,10 "$@" "$bookd" serve 2>"$log" &
  api=$!
  started+=("$api")
  await_base "$log" "$api"
  port=${base##*:}
}

# The receiver: its hook port and control port.
node "$here/webhook_receiver.mjs" "$work/ports" 2>"$work/receiver.log" &
started+=($!)
for _ in $(seq 100); do [[ -s "$work/ports" ]] && break; sleep 0.1; done
read -r hook_port control_port <"$work/ports"
rcv() { curl -s --max-time 10 -X POST "http://127.0.0.1:$control_port$1" -d "${2:-}"; }
stats() { st=$(rcv /stats "${1:-}"); }
num() { jq -r ".$1 // empty" <<<"$st"; }

# http METHOD PATH [BODY]: the status; the body in $work/body.
http() {
  local args=(-s -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 10 -X "$1"
              "$base$2" -H "Authorization: Bearer $key")
  [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}

# start_load NAME START: the load (6 clients) until $work/NAME.stop appears
# (60 s at most); records in $work/NAME.jsonl.
start_load() {
  rm -f "$work/$1.stop"
  node "$here/fault_load.mjs" load --base "$base" --key "$key" --contact "$contact" \
    --providers "$providers" --start "$2" --clients 6 --seconds 60 --timeout-ms 10000 \
    --backoff-ms 100 --out "$work/$1.jsonl" --progress "$work/$1.progress" \
    --stop-file "$work/$1.stop" --tag "$1" 2>"$work/$1.err" &
  load=$!
  load_name=$1
  progress_file=$work/$1.progress
  started+=("$load")
}
stop_load() {
  touch "$work/$load_name.stop"
  for _ in $(seq 150); do alive "$load" || break; sleep 0.1; done
  wait "$load"
  load_rc=$?
}

# check NAME: the checker on the load's records; its counts as c_* variables.
check() {
  node "$here/fault_load.mjs" check --db "$DATABASE_URL" --org "$org_id" \
    --records "$work/$1.jsonl" --base "$base" --key "$key" --faults "$work/$1.faults" \
    --summary "$work/$1.summary" --ids-out "$work/$1.ids" --outbox --label "$1" 2>"$work/$1.check.err"
  (( $? == 0 )) || sed 's/^/# check: /' "$work/$1.check.err"
  local name value
  while IFS='=' read -r name value; do
    [[ $name =~ ^[a-z0-9_]+$ ]] && printf -v "c_$name" '%s' "$value"
  done <"$work/$1.summary" 2>/dev/null
}
v() { local n="c_$1"; echo "${!n:--1}"; }
invariants() {
  (( $(v in_doubt_unresolved) == 0 && $(v replay_mismatch) == 0 && $(v s500) == 0 && $(v other) == 0 ))
  ok $? "$1: the $(v in_doubt) requests in doubt resolved by a replay with their key ($(v in_doubt_stored) had been stored); no 500 nor other answer ($(v s500), $(v other))"
  (( $(v lost) == 0 && $(v phantom) == 0 && $(v s201) > 0 ))
  ok $? "$1: every 201 is stored (lost $(v lost)); nothing stored without a 201 or a doubt ($(v phantom))"
  (( $(v double) == 0 ))
  ok $? "$1: no two confirmed appointments of one provider overlap ($(v double))"
  (( $(v missing_events) == 0 && $(v duplicate_events) == 0 ))
  ok $? "$1: every confirmed appointment has its appointment.booked event in the outbox, once ($(v missing_events) missing, $(v duplicate_events) twice)"
}
# deliveries WHERE: counts the endpoint's deliveries matching WHERE.
deliveries() { q "SELECT count(*) FROM deliveries WHERE endpoint_id = '$endpoint' AND ($1)"; }
# until_all_delivered NAME SECONDS: every confirmed appointment's event
# delivered (in SQL) and accepted by the receiver; sets `dstate`.
until_all_delivered() {
  local n i
  n=$(grep -c . "$work/$1.ids")
  for i in $(seq $(( $2 * 5 ))); do
    stats "{\"expect\":\"$work/$1.ids\"}"
    dstate="deliveries delivered $(deliveries "status = 'delivered'") of $n, receiver lost $(num lost)"
    [[ $(num lost) == 0 && $(deliveries "status = 'delivered'") == "$n" && $(deliveries true) == "$n" ]] &&
      return 0
    sleep 0.2
  done
  return 1
}
# undelivered: what holds back the endpoint's deliveries not yet delivered,
# and its breaker, as TAP comments.
undelivered() {
  q "SELECT '# not delivered: ' || status || ' ' || count(*) || ', attempts ' || min(attempts) || '..'
            || max(attempts) || ', next attempt in ' || min(next_attempt_at - now()) || ' .. '
            || max(next_attempt_at - now()) || ', leased ' || count(*) FILTER (WHERE locked_until > now())
            || ', last error ' || coalesce(max(last_error), 'none')
       FROM deliveries WHERE endpoint_id = '$endpoint' AND status <> 'delivered' GROUP BY status"
  q "SELECT '# breaker: state ' || state || ', failures in a row ' || consecutive_failures
            || ', opened ' || coalesce((now() - opened_at)::text || ' ago', 'never')
       FROM breakers WHERE target = 'webhook:$endpoint'"
  grep -hE '"level":"(warn|error)"' "$@" 2>/dev/null | grep -v connection_lost | tail -n 5 | sed 's/^/# bookd: /'
}
receiver_report() {
  echo "# $1: events $(num expected), arrived $(num acceptedAppointments) (webhook-ids $(num delivered)), duplicates $(num duplicates) (answered 2xx twice: $(num acceptedTwice)), lost $(num lost), requests $(num requests), bad signatures $(num badSignature)"
}

# ---------------------------------------------------------------------------
echo "# 1. bookd killed with SIGKILL twice under the load, started again on the same port"
start_api "$work/api1.log" 0 BOOKD_DELIVERY_LEASE_MS=2000
new_org "Process Kill" /hook/kill
rcv /reset >/dev/null
rcv /config "{\"path\":\"/hook/kill\",\"secret\":\"$secret\",\"delayMinMs\":5,\"delayMaxMs\":30,\"workers\":[]}" >/dev/null
[[ -n "$endpoint" && $endpoint != null && -n "$contact" && $contact != null ]]
ok $? "bookd serve answers on port $port; an organization with a webhook endpoint for the receiver"
if [[ -z "$endpoint" || $endpoint == null || -z "$contact" || $contact == null ]]; then
  grep -E '"level":"(warn|error)"' "$work/api1.log" | head -n 3 | sed 's/^/# bookd: /'
  echo "Bail out! could not set up an organization (is the database migrated?)"
  exit 1
fi
start_load kill 2044-01-01T00:00:00Z
for round in 1 2; do
  until_booked_since "$(now_ms)"
  sleep 1
  stats
  sends=$(( $(num requests) - $(num accepted) - $(num rejected) ))
  down=$(now_ms)
  { stop_pid "$api" KILL; } 2>/dev/null # (without bash's "Killed" notice)
  killed_rc=$rc
  sleep 0.3
  start_api "$work/api1.$round.log" "$port" BOOKD_DELIVERY_LEASE_MS=2000
  up=$(now_ms)
  echo "kill9 $down $up" >>"$work/kill.faults"
  (( killed_rc == 137 )) && [[ $port == "${base##*:}" && -n "$base" ]]
  ok $? "kill -9 $round of bookd under the load (exit $killed_rc, $sends webhook sends in flight); started again on port ${base##*:}"
  until_booked_since "$up"
  ok $? "after restart $round the load books again, by itself"
done
sleep 1
stop_load
(( load_rc == 0 ))
ok $? "the load stopped by itself and wrote its records (exit $load_rc)"
check kill
invariants "kill -9"
until_all_delivered kill 30
delivered=$?
stats "{\"expect\":\"$work/kill.ids\"}"
receiver_report "kill -9"
(( delivered == 0 ))
ok $? "every booked event is delivered to the receiver at least once after the kills ($dstate)"
(( delivered == 0 )) || undelivered "$work"/api1*.log
[[ $(num appointmentsUnderSeveralIds) == 0 && $(num idsWithSeveralAppointments) == 0 &&
   $(num badSignature) == 0 && $(num unexpected) == 0 ]]
ok $? "every duplicate is a retry of the same webhook-id; every request signed ($(num duplicates) duplicates)"
stop_pid "$api"
(( rc == 0 ))
ok $? "the restarted bookd exits 0 on SIGTERM (exit $rc)"

# ---------------------------------------------------------------------------
echo "# 2. SIGTERM under the load, bookings and webhook sends in flight"
# A long lock timeout: the held bookings wait for the row, not for a timeout.
start_api "$work/api2.log" 0 BOOKD_DELIVERY_LEASE_MS=5000 BOOKD_LOCK_TIMEOUT_MS=20000
new_org "Process Term" /hook/term
rcv /reset >/dev/null
# A slow receiver: sends stay in flight for a while.
rcv /config "{\"path\":\"/hook/term\",\"secret\":\"$secret\",\"delayMinMs\":300,\"delayMaxMs\":900,\"workers\":[]}" >/dev/null
http POST /api/contacts '{"name":"Held Patient"}' >/dev/null
held=$(jq -r .id "$work/body")
start_load term 2045-01-01T00:00:00Z
until_booked_since "$(now_ms)"
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT 1 FROM contacts WHERE id = '$held' FOR UPDATE;
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder=$!
started+=("$holder")
until_db "$holder_sleeping"
# Bookings waiting for the held row (the load's waits are for advisory locks).
waiting="(SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'transactionid')"
held_book() {
  curl -s -o "$work/held$1" -D "$work/held$1.headers" -w '%{http_code}' --max-time 30 \
    -X POST "$base/api/appointments" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"contactId\":\"$held\",\"scheduledAt\":\"2045-06-01T0$1:00:00Z\",\"durationMinutes\":30}" \
    >"$work/held$1.code"
}
held_book 1 & h1=$!
until_db "$waiting >= 1"
held_book 2 & h2=$!
until_db "$waiting >= 2"
for _ in $(seq 50); do
  stats
  sends=$(( $(num requests) - $(num accepted) - $(num rejected) ))
  (( sends > 0 )) && break
  sleep 0.1
done
term=$(now_ms)
kill -TERM "$api"
sleep 0.5
release_holder
for _ in $(seq 150); do alive "$api" || break; sleep 0.1; done
gone=$(now_ms)
stop_pid "$api"
term_rc=$rc
wait "$h1" "$h2"
stop_load
echo "# SIGTERM with 2 bookings held in flight and $sends webhook sends in flight; bookd was gone $(( gone - term )) ms later"
# The drain: requests in flight get up to 10 s, then the worker's sends in
# flight finish (the receiver answers within 0.9 s).
(( term_rc == 0 && gone - term <= 12000 ))
ok $? "bookd exits 0 within its drain time after SIGTERM under the load (exit $term_rc after $(( gone - term )) ms; at most 10 s + the sends)"
(( term_rc == 0 )) || grep -E '"level":"(warn|error)"' "$work/api2.log" | tail -n 5 | sed 's/^/# bookd: /'
id1=$(jq -r .appointmentId "$work/held1" 2>/dev/null)
id2=$(jq -r .appointmentId "$work/held2" 2>/dev/null)
[[ $(cat "$work/held1.code") == 201 && $(cat "$work/held2.code") == 201 ]] &&
  [[ $(q "SELECT count(*) FROM appointments WHERE id IN ('$id1', '$id2') AND status = 'confirmed'") == 2 ]]
ok $? "the two bookings in flight at SIGTERM were finished: answered 201 and stored ($(cat "$work/held1.code"), $(cat "$work/held2.code"))"
# Every request bookd answered (its access log) reached a client: the
# load's records, or the held bookings.
grep '"event":"http.request"' "$work/api2.log" | jq -r 'select(.route == "/api/appointments" and .method == "POST") | .requestId' |
  sort -u >"$work/logged"
{ jq -r '.rid // empty' "$work/term.jsonl"; grep -hi '^x-request-id:' "$work/held1.headers" "$work/held2.headers" |
    awk '{print $2}' | tr -d '\r'; } | sort -u >"$work/received"
cut_off=$(comm -23 "$work/logged" "$work/received" | wc -l)
after=$(jq -r -s --argjson t "$term" '[.[] | select(.t1 >= $t)] |
  "answered \([.[] | select(.st > 0)] | length), refused \([.[] | select(.ek == "refused")] | length), reset \([.[] | select(.ek == "reset")] | length), timed out \([.[] | select(.ek == "timeout")] | length)"' \
  "$work/term.jsonl" 2>/dev/null)
echo "# requests of the load that ended after SIGTERM: ${after:-none}"
late=$(jq -r -s --argjson t "$term" '[.[] | select(.t0 >= $t + 50)] |
  "\(length) started after it: answered \([.[] | select(.st > 0)] | length) (on connections opened before), without an answer \([.[] | select(.st == 0)] | length) (the longest waited \([.[] | select(.st == 0) | .t1 - .t0] | max // 0) ms); the last answer came \(([.[] | select(.st > 0) | .t1] | max // $t) - $t) ms after SIGTERM"' \
  "$work/term.jsonl" 2>/dev/null)
echo "# of the load's requests, ${late:-none}"
(( cut_off == 0 && $(wc -l <"$work/logged") > 0 ))
ok $? "every booking bookd answered reached its client ($(wc -l <"$work/logged") answered, $cut_off cut off)"
(( cut_off == 0 )) || comm -23 "$work/logged" "$work/received" | head -n 3 | sed 's/^/# answered, never received: /'
# The worker finished its sends in flight and wrote them back: nothing is
# left leased, and everything the receiver got is delivered in SQL.
stats "{\"ids\":\"$work/term.webhook-ids\"}"
leased=$(deliveries "status IN ('pending', 'failed') AND locked_until > now()")
got=$(psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" 2>&1 <<SQL
CREATE TEMP TABLE got (id text);
\\copy got FROM '$work/term.webhook-ids'
SELECT count(*) FILTER (WHERE d.status = 'delivered') || ' ' || count(*)
  FROM got g JOIN deliveries d
    ON d.endpoint_id = '$endpoint' AND 'msg_' || replace(d.id::text, '-', '') = g.id;
SQL
)
read -r got_delivered got_total <<<"$got"
echo "# at exit: the receiver had $(num requests) requests for $(num webhookIds) webhook-ids; in SQL $got_delivered of those delivered; leased $leased; deliveries by status: $(q "SELECT string_agg(status || ' ' || n, ', ') FROM (SELECT status, count(*) n FROM deliveries WHERE endpoint_id = '$endpoint' GROUP BY 1) s")"
[[ $leased == 0 && -n "$got_total" && $got_total -gt 0 && $got_delivered == "$got_total" && $got_total == "$(num webhookIds)" ]]
ok $? "the worker's sends in flight at SIGTERM were finished: every webhook the receiver got is delivered in SQL ($got_delivered of $(num webhookIds)), none left leased ($leased)"

rcv /config '{"delayMinMs":0,"delayMaxMs":5}' >/dev/null
start_api "$work/api3.log" 0 BOOKD_DELIVERY_LEASE_MS=5000
check term
invariants "SIGTERM"
until_all_delivered term 30
delivered=$?
stats "{\"expect\":\"$work/term.ids\"}"
receiver_report "SIGTERM"
(( delivered == 0 ))
ok $? "after a restart every booked event is delivered ($dstate)"
(( delivered == 0 )) || undelivered "$work/api2.log" "$work/api3.log"
stop_pid "$api"
(( rc == 0 ))
ok $? "bookd exits 0 on SIGTERM at the end (exit $rc)"
