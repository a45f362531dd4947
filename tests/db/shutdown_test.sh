#!/usr/bin/env bash
# Graceful shutdown: a booking still being answered when SIGTERM arrives is
# finished and answered (201, and its row exists); new connections are no
# longer taken; bookd exits 0. The booking is held in flight by a psql
# session that keeps its contact's row locked until the test lets go.
# Prints TAP.
#   tests/db/shutdown_test.sh BOOKD_BINARY     (DATABASE_URL set, migrated)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
trap 'stop_bookd; rm -rf "$work"' EXIT

echo "1..5"
# A long lock timeout: the booking waits for the held row, not for a timeout.
start_bookd BOOKD_ADMIN_TOKEN=shutdown-token BOOKD_LOCK_TIMEOUT_MS=60000
org=$(curl -s -X POST "$base/api/orgs" -H 'Authorization: Bearer shutdown-token' \
  -H 'Content-Type: application/json' -d '{"name":"Shutdown","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Late Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')

# Hold the contact's row; the booking waits for it inside the database.
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT 1 FROM contacts WHERE id = '$contact' FOR UPDATE;
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder=$!
until_db "$holder_sleeping"
curl -s -o "$work/body" -w '%{http_code}' --max-time 20 -X POST "$base/api/appointments" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-04-04T10:00:00Z\",\"durationMinutes\":30}" \
  >"$work/code" &
client=$!
until_db "(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock') = 1"
kill -TERM "$pid"
sleep 0.2
curl -s -o /dev/null --max-time 2 "$base/health"
[[ $? -ne 0 ]]
ok $? "after SIGTERM, new requests are no longer taken"
release_holder
wait "$client"
[[ $(cat "$work/code") == 201 ]]
ok $? "the booking in flight at SIGTERM was finished and answered 201 (got $(cat "$work/code"))"
wait "$pid"
rc=$?
pid=
ok $rc "bookd exited 0 after finishing it (exit $rc)"
id=$(sed -n 's/.*"appointmentId":"\([^"]*\)".*/\1/p' "$work/body")
[[ -n "$id" && $(psql -X -q -t -A "$DATABASE_URL" -c \
  "SELECT status FROM appointments WHERE id = '$id'") == confirmed ]]
ok $? "the appointment it answered for exists"
grep -q '"event":"serve.stopped"' "$work/log"
ok $? "bookd logged its stop"
