#!/usr/bin/env bash
# The ecosystem's own tools judge what bookd publishes: redocly lints the
# OpenAPI document the server serves, promtool checks the /metrics it
# exposes after real traffic. Prints TAP.
#   tests/tools/check_test.sh BOOKD_BINARY    (DATABASE_URL set, migrated)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

n=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..7"

# No worker: the two events booked below stay pending for the count.
DATABASE_URL="$DATABASE_URL${BOOKD_TEST_APP_USER:+ user=$BOOKD_TEST_APP_USER}" \
  BOOKD_LISTEN=127.0.0.1:0 BOOKD_ADMIN_TOKEN=check-token BOOKD_NO_WORKER=true "$bookd" serve 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/log" | head -n 1)
  [[ -n "$base" ]] && break
  sleep 0.1
done
[[ -n "$base" ]]
ok $? "bookd serves"

api() { curl -s --max-time 10 "$@"; }
org=$(api -X POST "$base/api/orgs" -H 'Authorization: Bearer check-token' \
  -H 'Content-Type: application/json' -d '{"name":"Checks","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(api -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Metric Person"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
for at in 10:00 10:30 10:15; do # booked, booked, conflict
  api -o /dev/null -X POST "$base/api/appointments" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-02-03T${at}:00Z\",\"durationMinutes\":30}"
done
api "$base/metrics" >"$work/metrics"
grep -q 'bookd_bookings_total{result="booked"} 2' "$work/metrics" &&
  grep -q 'bookd_bookings_total{result="conflict"} 1' "$work/metrics"
ok $? "metrics count the bookings that were made (2 booked, 1 conflict)"
grep -qE '^bookd_outbox_pending ([2-9]|[1-9][0-9]+)$' "$work/metrics" &&
  grep -q '^# TYPE bookd_circuit_breaker_state gauge' "$work/metrics" &&
  grep -q '^bookd_webhook_deliveries_total{result="delivered"} 0' "$work/metrics"
ok $? "the outbox, delivery and breaker families are there; the 2 booked events are pending"
promtool check metrics <"$work/metrics" >"$work/promtool" 2>&1
rc=$?
ok $rc "promtool check metrics accepts /metrics"
[[ $rc == 0 ]] || sed 's/^/# /' "$work/promtool"

api "$base/openapi.json" >"$work/openapi.json"
cmp -s "$work/openapi.json" "$here/../../openapi.json"
ok $? "/openapi.json serves the document kept in the repository"
(cd "$here" && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  npx --no-install redocly lint "$work/openapi.json" >"$work/redocly" 2>&1)
rc=$?
ok $rc "redocly lint finds no error in the served document"
[[ $rc == 0 ]] || sed 's/^/# /' "$work/redocly" | tail -n 30

! grep -qE "$key|Metric Person|check-token" "$work/log"
ok $? "the log holds no key, token or personal data"
