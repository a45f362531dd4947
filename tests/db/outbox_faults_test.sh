#!/usr/bin/env bash
# Faults in the delivery of the outbox (docs/design.md, "Deliveries"), against
# a local webhook receiver (webhook_receiver.mjs) that checks every request's
# signature and counts what arrives per webhook-id and per appointment:
#   1. a `bookd worker` killed with SIGKILL in the middle of 1,000 deliveries,
#      then started again: every event arrives, none is lost, and a
#      duplicate is only ever a retry (the webhook-id of an earlier request);
#   2. two `bookd worker` processes on one database: every event arrives
#      exactly once, and both workers send;
#   3. a receiver that refuses connections, then answers 503, then recovers
#      (bookd serve with its in-process worker, a short retry schedule):
#      every event arrives, duplicates are retries of the same webhook-id.
# The API runs as `bookd serve --no-worker` in 1 and 2. Every process the
# test starts listens on 127.0.0.1 only and is stopped by its PID; every
# wait is bounded. Prints TAP.
#   tests/db/outbox_faults_test.sh BOOKD_BINARY     (DATABASE_URL set, migrated)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
source "$here/lib.sh"

started=()
cleanup() {
  local p
  for p in "${started[@]}"; do alive "$p" && stop_pid "$p"; done
  rm -rf "$work"
}
trap cleanup EXIT

echo "1..21"

admin_token=outbox-faults-token
# The run's one key when scripts/test.sh gives it (the database is shared,
# and a worker cannot open secrets sealed under another key).
secret_key=${BOOKD_SECRET_KEY:-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff}
common=(DATABASE_URL="$(app_url)" BOOKD_SECRET_KEY=$secret_key
        BOOKD_WEBHOOK_ALLOW_PRIVATE=true BOOKD_OUTBOX_POLL_MS=200)

# start_api LOG [VAR=VALUE...] [-- FLAG...]: starts bookd serve on a free
# port; sets `api` (its PID) and `base`.
start_api() {
  local log=$1; shift
  local envs=() flags=()
  while (( $# )); do
    if [[ $1 == -- ]]; then shift; flags=("$@"); break; fi
    envs+=("$1"); shift
  done
  env BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN=$admin_token \
    BOOKD_RATE_LIMIT_ADMIN=100000/100000 "${common[@]}" "${envs[@]}" \
    "$bookd" serve "${flags[@]}" 2>"$log" &
  api=$!
  started+=("$api")
  await_base "$log" "$api"
}

# start_worker LOG [VAR=VALUE...]: starts bookd worker; sets `worker` to its PID.
start_worker() {
  local log=$1; shift
  env "${common[@]}" "$@" "$bookd" worker 2>"$log" &
  worker=$!
  started+=("$worker")
}

# The receiver: its hook port (what endpoints point at) and control port.
node "$here/webhook_receiver.mjs" "$work/ports" 2>"$work/receiver.log" &
receiver=$!
started+=("$receiver")
for _ in $(seq 100); do [[ -s "$work/ports" ]] && break; sleep 0.1; done
read -r hook_port control_port <"$work/ports"
rcv() { curl -s --max-time 10 -X POST "http://127.0.0.1:$control_port$1" -d "${2:-}"; }
# stats [JSON]: the receiver's counts, kept in `st`; num NAME reads one.
stats() { st=$(rcv /stats "${1:-}"); }
num() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9]*\).*/\1/p" <<<"$st"; }
str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$st"; }

# new_org NAME PATH: an organization, a contact and a webhook endpoint for
# appointment.booked at the receiver's PATH; sets key, contact, endpoint,
# secret and endpoint_code.
new_org() {
  local org ep
  org=$(curl -s --max-time 10 -X POST "$base/api/orgs" -H "Authorization: Bearer $admin_token" \
    -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"timezone\":\"UTC\"}")
  key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
  contact=$(curl -s --max-time 10 -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"Outbox Patient"}' |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  endpoint_code=$(curl -s --max-time 10 -o "$work/endpoint" -w '%{http_code}' \
    -X POST "$base/api/webhook-endpoints" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:$hook_port$2\",\"events\":[\"appointment.booked\"]}")
  ep=$(cat "$work/endpoint")
  endpoint=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$ep")
  secret=$(sed -n 's/.*"secret":"\([^"]*\)".*/\1/p' <<<"$ep")
}

# book COUNT START IDS_FILE: COUNT bookings 30 minutes apart from START.
book() { node "$here/outbox_book.mjs" "$base" "$key" "$contact" "$1" "$2" "$3" 2>"$3.err"; }

# deliveries_are SQL_CONDITION: holds for the endpoint's deliveries, e.g.
# "count(*) = 1000 AND bool_and(status = 'delivered')".
deliveries_are() {
  [[ -n "$endpoint" ]] || return 1
  [[ $(q "SELECT coalesce(($1), false) FROM deliveries WHERE endpoint_id = '$endpoint'" 2>/dev/null) == t ]]
}
# until_delivered N SECONDS PID...: waits until all N events arrived at the
# receiver (answered 2xx) and the endpoint has N deliveries, all
# `delivered`; gives up early when none of the PIDs (the senders) runs.
until_delivered() {
  local n=$1 seconds=$2 i p running
  shift 2
  [[ -n "$endpoint" ]] || return 1
  for i in $(seq $(( seconds * 5 ))); do
    running=0
    for p in "$@"; do alive "$p" && running=1; done
    (( running )) || return 1
    stats "{\"expect\":\"$ids\"}"
    if [[ $(num lost) == 0 ]] &&
       deliveries_are "count(*) = $n AND bool_and(status = 'delivered')"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}
# tally COLUMN: the endpoint's deliveries counted by COLUMN, e.g. "delivered 998, failed 2".
tally() {
  [[ -n "$endpoint" ]] || return 0
  q "SELECT string_agg(v || ' ' || n, ', ' ORDER BY v) FROM (SELECT $1::text v, count(*) n
     FROM deliveries WHERE endpoint_id = '$endpoint' GROUP BY 1) s" 2>/dev/null
}
# undelivered: what holds back the endpoint's deliveries not yet delivered
# (their status, next attempt and lease from now; the endpoint's breaker).
undelivered() {
  [[ -n "$endpoint" ]] || return 0
  q "SELECT '# not delivered: ' || status || ' ' || count(*) || ', next attempt in '
            || min(next_attempt_at - now()) || ' .. ' || max(next_attempt_at - now())
            || ', leased ' || count(*) FILTER (WHERE locked_until > now())
       FROM deliveries WHERE endpoint_id = '$endpoint' AND status <> 'delivered' GROUP BY status" 2>/dev/null
  q "SELECT '# breaker webhook:$endpoint: state ' || state || ', failures in a row '
            || consecutive_failures || ', opened ' || coalesce((now() - opened_at)::text || ' ago', 'never')
            || ', trials in flight ' || trials_in_flight || ', succeeded ' || trials_succeeded
            || ', trial claimed ' || coalesce((now() - trial_claimed_at)::text || ' ago', 'never')
            || ', updated ' || (now() - updated_at) || ' ago'
       FROM breakers WHERE target = 'webhook:$endpoint'" 2>/dev/null
}
# diag FILE...: the last lines of logs, as TAP comments.
diag() { local f; for f in "$@"; do tail -n 5 "$f" 2>/dev/null | sed "s|^|# $(basename "$f"): |"; done; }
report() {
  echo "# events $(num expected), delivered $(num acceptedAppointments) (webhook-ids $(num delivered)," \
       "appointments $(num appointments)), duplicates $(num duplicates), lost $(num lost);" \
       "requests $(num requests) ($(num rejected) answered 503), answered 2xx twice $(num acceptedTwice)"
}
# retries_only: every request beyond the first for an event carried the
# webhook-id of that event's first request, and no webhook-id came with two
# events; every request had a webhook-id and a body of the documented shape.
retries_only() {
  [[ $(num requests) -gt 0 && $(num appointmentsUnderSeveralIds) == 0 && $(num idsWithSeveralAppointments) == 0 &&
     $(num noId) == 0 && $(num badBody) == 0 && $(num unexpected) == 0 ]]
}

# ---------------------------------------------------------------------------
echo "# 1. bookd worker killed with SIGKILL in the middle of 1000 deliveries, then started again"
start_api "$work/api.log" -- --no-worker
new_org "Outbox Kill" /hook/s1
[[ $endpoint_code == 201 && -n "$endpoint" && $secret == whsec_* && -n "$contact" ]]
ok $? "bookd serve --no-worker creates a webhook endpoint for the receiver (got $endpoint_code)"
[[ $endpoint_code == 201 ]] || { diag "$work/api.log"; cat "$work/endpoint" | sed 's/^/# /'; }
rcv /reset >/dev/null
rcv /config "{\"path\":\"/hook/s1\",\"secret\":\"$secret\",\"delayMinMs\":5,\"delayMaxMs\":20,\"workers\":[]}" >/dev/null

ids=$work/s1.ids
book 1000 2041-01-01T00:00:00Z "$ids"
ok $? "1000 bookings answered 201 (the API sends nothing: --no-worker)"
[[ -s "$ids" ]] || { ids=$work/none; : >"$ids"; diag "$ids.err"; }

start_worker "$work/worker1.log" BOOKD_DELIVERY_LEASE_MS=3000
w1=$worker
rcv /kill "{\"pid\":$w1,\"at\":400}" >/dev/null
{ # (without bash's "Killed" notice on stderr)
  for _ in $(seq 100); do
    stats
    [[ -n "$(num killedAt)" ]] && break
    alive "$w1" || break
    sleep 0.2
  done
  stop_pid "$w1"
} 2>/dev/null
# Read again: the kill may have come between the last read and the look at
# whether the worker is alive.
stats
killed_at=$(num killedAt)
[[ -n "$killed_at" ]] && (( killed_at >= 100 && killed_at <= 900 )) && (( rc == 137 ))
ok $? "the worker was killed with SIGKILL at request ${killed_at:-none} of 1000 (exit $rc)"
[[ -n "$killed_at" ]] || diag "$work/worker1.log"
echo "# $(num inFlightAtKill) requests were waiting for their answer at the kill"

start_worker "$work/worker1b.log" BOOKD_DELIVERY_LEASE_MS=3000
w1b=$worker
until_delivered 1000 30 "$w1b"
delivered=$?
ok $delivered "after the restart every event arrives and every delivery ends delivered (lost $(num lost))"
(( delivered == 0 )) || undelivered
stats "{\"expect\":\"$ids\",\"ids\":\"$work/s1.webhook-ids\"}"
report
[[ $(num lost) == 0 ]] || echo "# never arrived, e.g.: $(sed -n 's/.*"lostSample":\[\([^]]*\)\].*/\1/p' <<<"$st")"
retries_only
ok $? "every duplicate is a retry: it carries the webhook-id of an earlier request for its event"
[[ $(num badSignature) == 0 && $(num requests) -gt 0 ]]
ok $? "every request is signed with the endpoint's secret ($(num badSignature) bad of $(num requests))"
[[ $(num badSignature) == 0 ]] || echo "# first bad one: $(sed -n 's/.*"firstSignatureProblem":\({[^}]*}\).*/\1/p' <<<"$st")"
deliveries_are "count(*) = 1000 AND bool_and(status = 'delivered') AND bool_and(attempts >= 1)"
ok $? "in SQL: the endpoint has 1000 deliveries, every one delivered"
echo "# deliveries by status: $(tally status)"
got=$(psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" 2>&1 <<SQL
CREATE TEMP TABLE got (id text);
\\copy got FROM '$work/s1.webhook-ids'
SELECT count(*) = 1000 AND count(DISTINCT g.id) = 1000 AND bool_and(d.id IS NOT NULL)
  FROM got g LEFT JOIN deliveries d
    ON d.endpoint_id = '$endpoint' AND 'msg_' || replace(d.id::text, '-', '') = g.id;
SQL
)
[[ $got == t ]]
ok $? "in SQL: the webhook-ids received are the 1000 deliveries' ids (msg_ + the delivery's UUID)"
stop_pid "$w1b"
(( rc == 0 ))
ok $? "bookd worker exits 0 on SIGTERM (exit $rc)"
(( rc == 0 )) || diag "$work/worker1b.log"

# ---------------------------------------------------------------------------
echo "# 2. two bookd worker processes on one database, 500 bookings"
new_org "Outbox Two Workers" /hook/s2
rcv /reset >/dev/null
rcv /config "{\"path\":\"/hook/s2\",\"secret\":\"$secret\",\"delayMinMs\":5,\"delayMaxMs\":10,\"workers\":[]}" >/dev/null
# Half the events wait for the workers (a backlog both claim from at once),
# half come while they run.
ids=$work/s2.ids
book 250 2042-01-01T00:00:00Z "$work/s2a.ids"
booked_a=$?
start_worker "$work/worker2a.log"
w2a=$worker
start_worker "$work/worker2b.log"
w2b=$worker
rcv /config "{\"workers\":[$w2a,$w2b]}" >/dev/null
book 250 2042-01-06T05:00:00Z "$work/s2b.ids"
booked_b=$?
(( booked_a == 0 && booked_b == 0 )) && [[ $endpoint_code == 201 ]]
ok $? "500 bookings answered 201, 250 before the two workers start and 250 while they run (endpoint $endpoint_code)"
cat "$work/s2a.ids" "$work/s2b.ids" >"$ids" 2>/dev/null
(( booked_a == 0 && booked_b == 0 )) || diag "$work/s2a.ids.err" "$work/s2b.ids.err"
until_delivered 500 20 "$w2a" "$w2b"
delivered=$?
(( delivered == 0 )) || undelivered
sleep 0.5 # a second send of one delivery would arrive about now
stats "{\"expect\":\"$ids\"}"
report
[[ $delivered == 0 && $(num lost) == 0 && $(num duplicates) == 0 && $(num acceptedAppointments) == 500 ]] &&
  retries_only
ok $? "every event arrives exactly once (lost $(num lost), duplicates $(num duplicates))"
echo "# requests per worker (PID:count): $(str byWorker)"
[[ $(num workersSeen) == 2 ]]
ok $? "both workers sent deliveries ($(num workersSeen) of 2; $(num unattributed) requests not attributed)"
deliveries_are "count(*) = 500 AND bool_and(status = 'delivered') AND bool_and(attempts = 1)"
ok $? "in SQL: 500 deliveries, every one delivered at its first attempt"
[[ $(num badSignature) == 0 && $(num requests) -gt 0 ]]
ok $? "every request is signed with the endpoint's secret ($(num badSignature) bad of $(num requests))"
stop_pid "$w2a"; rc_a=$rc
stop_pid "$w2b"; rc_b=$rc
(( rc_a == 0 && rc_b == 0 ))
ok $? "both workers exit 0 on SIGTERM (exit $rc_a and $rc_b)"
(( delivered == 0 )) || diag "$work/worker2a.log" "$work/worker2b.log"

# ---------------------------------------------------------------------------
echo "# 3. the receiver refuses connections, then answers 503, then recovers (bookd serve with its worker)"
stop_pid "$api"
rcv /reset >/dev/null
rcv /mode '{"mode":"closed"}' >/dev/null
start_api "$work/api3.log" BOOKD_WEBHOOK_RETRY_SCHEDULE=0,1,1,2,2,5,5,10 BOOKD_BREAKER_OPEN_MS=1000
new_org "Outbox Receiver Down" /hook/s3
rcv /config "{\"path\":\"/hook/s3\",\"secret\":\"$secret\",\"delayMinMs\":0,\"delayMaxMs\":0,\"workers\":[]}" >/dev/null
ids=$work/s3.ids
book 200 2043-01-01T00:00:00Z "$ids" && [[ $endpoint_code == 201 ]]
ok $? "200 bookings answered 201 while the receiver is down (endpoint $endpoint_code)"
[[ -s "$ids" ]] || { ids=$work/none; : >"$ids"; diag "$ids.err"; }
down_at=$(date +%s%N)
failing=1
for _ in $(seq 50); do
  [[ -n "$endpoint" ]] || break
  if deliveries_are "count(*) = 200 AND count(*) FILTER (WHERE status = 'failed' AND attempts >= 1
                     AND last_error IS NOT NULL) > 0 AND count(*) FILTER (WHERE status = 'delivered') = 0"; then
    failing=0; break
  fi
  sleep 0.1
done
ok $failing "while the receiver refuses connections, deliveries fail and wait for their next attempt"
echo "# while refused, deliveries by status: $(tally status)"
# Refused for 1.5 s, then 503 for 1.5 s, then healthy.
sleep "$(awk -v t=$(( ($(date +%s%N) - down_at) / 1000000 )) 'BEGIN { d = (1500 - t) / 1000; print (d > 0 ? d : 0) }')"
rcv /mode '{"mode":"503"}' >/dev/null
sleep 1.5
rcv /mode '{"mode":"ok"}' >/dev/null
# The schedule's longest wait is 10 s and the breaker stays open 1 s: 30 s
# is ample for the backlog once the receiver answers again.
until_delivered 200 30 "$api"
delivered=$?
ok $delivered "within 30 s of the receiver's recovery every event arrives and every delivery ends delivered (lost $(num lost))"
(( delivered == 0 )) || undelivered
stats "{\"expect\":\"$ids\"}"
report
retries_only && [[ $(num badSignature) == 0 ]]
ok $? "duplicates are retries of the same webhook-id, and every request is signed ($(num badSignature) bad)"
deliveries_are "count(*) = 200 AND bool_and(status = 'delivered') AND count(*) FILTER (WHERE attempts > 1) > 0"
ok $? "in SQL: 200 deliveries, every one delivered (none dead), the retried ones after more than one attempt"
echo "# deliveries by attempts: $(tally attempts)"
stop_pid "$api"
(( rc == 0 ))
ok $? "bookd serve with its in-process worker exits 0 on SIGTERM (exit $rc)"
(( rc == 0 )) || diag "$work/api3.log"
