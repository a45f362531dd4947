#!/usr/bin/env bash
# The two kinds of "busy": a slot whose bucket lock is held past the lock
# timeout answers 409 slot_busy with Retry-After and writes nothing, to a
# booking and to a hold alike; a pool
# whose connections are all held past the pool wait answers 503 unavailable
# with Retry-After. The bucket's key is computed here by PostgreSQL from
# the documented formula (first 8 bytes of SHA-256 of orgId + "_" + iso),
# so this also checks bookd's keys end to end. Prints TAP.
#   tests/db/busy_test.sh BOOKD_BINARY     (DATABASE_URL set, migrated)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
work=$(mktemp -d)
source "$(dirname "$0")/lib.sh"
trap 'stop_bookd; rm -rf "$work"' EXIT

echo "1..14"
start_bookd BOOKD_ADMIN_TOKEN=busy-token BOOKD_LOCK_TIMEOUT_MS=300 BOOKD_POOL_SIZE=2 \
  BOOKD_POOL_WAIT_MS=200
org=$(curl -s -X POST "$base/api/orgs" -H 'Authorization: Bearer busy-token' \
  -H 'Content-Type: application/json' -d '{"name":"Busy","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
org_id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Busy Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
book() { # book HH:MM OUTFILE: prints the status
  curl -s -o "$2" -D "$2.headers" -w '%{http_code}' --max-time 20 -X POST "$base/api/appointments" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-05-05T$1:00Z\",\"durationMinutes\":30}"
}

# 1. Hold the 10:00 bucket's lock longer than bookd's lock timeout.
lock_key=$(q "SELECT ('x' || substr(encode(sha256(convert_to('${org_id}_2031-05-05T10:00:00.000Z',
  'UTF8')), 'hex'), 1, 16))::bit(64)::bigint")
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT pg_advisory_xact_lock($lock_key); SELECT pg_sleep(60); COMMIT;" \
  >/dev/null 2>&1 &
holder=$!
until_db "$holder_sleeping"
code=$(book 10:00 "$work/busy")
[[ $code == 409 ]] && grep -q '"error":"slot_busy"' "$work/busy" &&
  grep -qi '^Retry-After:' "$work/busy.headers"
ok $? "a bucket held past the lock timeout answers 409 slot_busy with Retry-After (got $code)"
# A hold of that time waits for the same bucket, and answers the same.
code=$(curl -s -o "$work/hold" -D "$work/hold.headers" -w '%{http_code}' --max-time 20 \
  -X POST "$base/api/holds" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"scheduledAt":"2031-05-05T10:00:00Z","durationMinutes":30}')
[[ $code == 409 ]] && grep -q '"error":"slot_busy"' "$work/hold" &&
  grep -qi '^Retry-After:' "$work/hold.headers"
ok $? "a hold of a bucket held past the lock timeout answers 409 slot_busy with Retry-After (got $code)"
release_holder
[[ $(q "SELECT count(*) FROM appointments WHERE org_id = '$org_id' AND status = 'held'") == 0 &&
   $(q "SELECT count(*) FROM audit_logs WHERE org_id = '$org_id' AND action = 'hold.created'") == 0 ]]
ok $? "the busy hold wrote no hold and no audit entry"
[[ $(q "SELECT count(*) FROM appointments WHERE org_id = '$org_id'") == 0 &&
   $(q "SELECT count(*) FROM audit_logs WHERE org_id = '$org_id' AND action = 'appointment.booked'") == 0 ]]
ok $? "slot_busy wrote no appointment and no audit entry"
[[ $(book 10:00 "$work/after") == 201 ]]
ok $? "once the lock is free, the same booking succeeds"

metrics=$(curl -s "$base/metrics")
grep -q '^bookd_bookings_total{result="busy"} 1$' <<<"$metrics"
ok $? "metrics count the busy booking"

# 2. Hold both pool connections: two bookings wait on the contact's row,
# which a booking locks after its insert. The lock timeout is long here, so
# that they wait rather than answer slot_busy.
start_bookd BOOKD_ADMIN_TOKEN=busy-token BOOKD_LOCK_TIMEOUT_MS=10000 BOOKD_POOL_SIZE=2 \
  BOOKD_POOL_WAIT_MS=200
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT 1 FROM contacts WHERE id = '$contact' FOR UPDATE;
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder=$!
until_db "$holder_sleeping"
# One after the other: a blocking handler holds its HTTP worker thread, so
# two connections accepted together by one thread would be served in turn,
# and the second booking would never reach the database.
book 12:00 "$work/a" >"$work/a.code" &
a=$!
until_db "(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock') = 1"
book 13:00 "$work/b" >"$work/b.code" &
b=$!
until_db "(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock') = 2"
code=$(curl -s -o "$work/c" -D "$work/c.headers" -w '%{http_code}' --max-time 10 \
  "$base/api/appointments" -H "Authorization: Bearer $key")
[[ $code == 503 ]] && grep -q '"error":"unavailable"' "$work/c" &&
  grep -qi '^Retry-After:' "$work/c.headers"
ok $? "with every pool connection held past the pool wait, 503 unavailable with Retry-After (got $code)"
release_holder
wait "$a" "$b"
[[ $(cat "$work/a.code") == 201 && $(cat "$work/b.code") == 201 ]]
ok $? "the bookings that held the pool finish with 201"
metrics=$(curl -s "$base/metrics")
grep -qE '^bookd_db_pool_acquire_timeouts_total [1-9]' <<<"$metrics"
ok $? "metrics count the pool wait that timed out"

# 3. A loser does not queue behind the holder of a bucket: with 10:00 booked
# (above) and its bucket held by another transaction, a booking for 10:00
# answers 409 slot_unavailable while the holder still holds the lock.
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT pg_advisory_xact_lock($lock_key); SELECT pg_sleep(60); COMMIT;" \
  >/dev/null 2>&1 &
holder=$!
until_db "$holder_sleeping"
code=$(book 10:00 "$work/loser")
still_held=$(q "SELECT $holder_sleeping")
[[ $code == 409 ]] && grep -q '"error":"slot_unavailable"' "$work/loser"
ok $? "a booking for a taken slot whose bucket is held answers 409 slot_unavailable (got $code)"
[[ $still_held == t ]]
ok $? "it answered without waiting for the holder of the bucket"
release_holder

# 4. A contact erased while a booking of it waits on the contact's row: the
# booking fails with 400 on contactId and leaves nothing behind. The erasure
# waits at a gate (an advisory lock held by a sleeping session) after its
# work and before its commit, so the booking surely comes in between.
other=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Leaving Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
gate=424242
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT pg_advisory_xact_lock($gate); SELECT pg_sleep(60); COMMIT;" \
  >/dev/null 2>&1 &
holder=$!
until_db "$holder_sleeping"
psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT erase_contact('$org_id', '$other', 'system');
  SELECT pg_advisory_xact_lock($gate); COMMIT;" >/dev/null &
erasure=$!
until_db "EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory')"
curl -s -o "$work/erased" -w '%{http_code}' --max-time 20 -X POST "$base/api/appointments" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"contactId\":\"$other\",\"scheduledAt\":\"2031-05-05T15:00:00Z\",\"durationMinutes\":30}" \
  >"$work/erased.code" &
booking=$!
until_db "(SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock') = 2"
release_holder
wait "$erasure" "$booking"
code=$(cat "$work/erased.code")
[[ $code == 400 ]] && grep -q '"field":"contactId"' "$work/erased"
ok $? "a booking racing the erasure of its contact answers 400 on contactId (got $code)"
[[ $(q "SELECT count(*) FROM appointments WHERE contact_id = '$other'") == 0 &&
   $(q "SELECT count(*) FROM outbox_events WHERE entity_id IN
        (SELECT id FROM appointments WHERE contact_id = '$other')") == 0 ]]
ok $? "and writes no appointment"

# 6. The lock timeout is one budget for the whole booking, not one per
# bucket: a 16:00 booking takes the 16:00 and 16:15 buckets, in key order.
# The first is held and let go after 0.7 s, the second stays held. With a
# budget of 1 s the booking answers slot_busy about 1 s after it started;
# with a timeout per lock it answered after 0.7 s + 1 s.
start_bookd BOOKD_ADMIN_TOKEN=busy-token BOOKD_LOCK_TIMEOUT_MS=1000 BOOKD_POOL_SIZE=2 \
  BOOKD_POOL_WAIT_MS=200
bucket_key() {
  q "SELECT ('x' || substr(encode(sha256(convert_to('${org_id}_2031-05-05T$1:00.000Z',
    'UTF8')), 'hex'), 1, 16))::bit(64)::bigint"
}
read -r first second < <(printf '%s\n%s\n' "$(bucket_key 16:00)" "$(bucket_key 16:15)" | sort -n | tr '\n' ' ')
PGAPPNAME=second psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT pg_advisory_xact_lock($second);
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder=$!
PGAPPNAME=first psql -X -q "$DATABASE_URL" -c "BEGIN; SELECT pg_advisory_xact_lock($first);
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
first_holder=$!
until_db "(SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep') = 2"
curl -s -o "$work/budget" -w '%{http_code} %{time_total}' --max-time 20 -X POST \
  "$base/api/appointments" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-05-05T16:00:00Z\",\"durationMinutes\":30}" \
  >"$work/budget.out" &
booking=$!
until_db "EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory')"
sleep 0.7
q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'first'" >/dev/null
wait "$first_holder" 2>/dev/null
wait "$booking"
read -r code seconds <"$work/budget.out"
release_holder
[[ $code == 409 ]] && grep -q '"error":"slot_busy"' "$work/budget" &&
  awk -v s="$seconds" 'BEGIN { exit !(s < 1.5) }'
ok $? "two held buckets cost one lock budget: slot_busy after ${seconds}s with a 1 s timeout (got $code)"

