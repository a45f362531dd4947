#!/usr/bin/env bash
# bookd keeps each service's duration and buffers in memory after the first
# read (services cannot be edited through the API). A service edited by hand
# in the database must still be booked by its row: the booking function
# refuses lock keys computed from the stale copy, and bookd reads the row
# again and books. Prints TAP.
#   tests/db/service_cache_test.sh BOOKD_BINARY     (DATABASE_URL set, migrated)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
trap 'stop_bookd; rm -rf "$work"' EXIT

echo "1..6"
start_bookd BOOKD_ADMIN_TOKEN=cache-token
post() { # post PATH BODY OUTFILE: prints the status
  curl -s -o "$3" -w '%{http_code}' --max-time 20 -X POST "$base$1" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d "$2"
}
org=$(curl -s -X POST "$base/api/orgs" -H 'Authorization: Bearer cache-token' \
  -H 'Content-Type: application/json' -d '{"name":"Cache","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
post /api/contacts '{"name":"Cache Patient"}' "$work/contact" >/dev/null
contact=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/contact")
post /api/services '{"name":"Check-up","durationMinutes":30}' "$work/service" >/dev/null
service=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' "$work/service")
booking() { echo "{\"contactId\":\"$contact\",\"serviceId\":\"$service\",\"scheduledAt\":\"2031-06-02T$1:00Z\"}"; }

code=$(post /api/appointments "$(booking 10:00)" "$work/first")
[[ $code == 201 ]] && grep -q '"durationMinutes":30' "$work/first"
ok $? "a booking with the service takes its 30 minutes (got $code)"

# By hand, behind bookd's back: 60 minutes and a 30-minute buffer after.
q "UPDATE services SET duration_minutes = 60, buffer_after_minutes = 30 WHERE id = '$service'"
code=$(post /api/appointments "$(booking 12:00)" "$work/second")
[[ $code == 201 ]] && grep -q '"durationMinutes":60' "$work/second"
ok $? "after a hand edit the service is booked as its row says, 60 minutes (got $code)"
grep -q '"event":"db.lock_keys_refused"' "$work/log"
ok $? "the stale copy was refused by the booking function, and logged"
[[ $(q "SELECT buffer_after_minutes FROM appointments WHERE scheduled_at = '2031-06-02 12:00Z'
        AND service_id = '$service'") == 30 ]]
ok $? "the appointment holds the row's buffer"

# 13:00 is free on the clock but inside 12:00's buffer (12:00 + 60 + 30).
code=$(post /api/appointments "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-06-02T13:15:00Z\",\"durationMinutes\":10}" "$work/third")
[[ $code == 409 ]]
ok $? "the buffer from the row is enforced: 13:15 is taken (got $code)"
code=$(post /api/appointments "$(booking 14:00)" "$work/fourth")
[[ $code == 201 ]] && grep -q '"durationMinutes":60' "$work/fourth"
ok $? "the next booking with the service uses the fresh copy (got $code)"
