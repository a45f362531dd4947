#!/usr/bin/env bash
# The fan-out's cursor never passes an event that can still appear
# (sql/50_deliveries.sql, outbox_fan_out; docs/design.md, "Deliveries").
# Transaction A books and stays open; B, which began after A, books and
# commits. B's event is visible first, but A's has the smaller transaction
# id: a fan-out now must take neither (a cursor moved past B would never
# come back for A), and once A has committed both, each once. On a
# database of its own, with psql sessions only (no worker running). Prints
# TAP.
#   tests/db/fanout_horizon_test.sh BOOKD_BINARY     (DATABASE_URL set)
set -uo pipefail
bookd=$1
db="fanout_horizon_$$"
url="$DATABASE_URL dbname=$db"
work=$(mktemp -d)
holder=
cleanup() {
  [[ -n $holder ]] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
  psql -X -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

n=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$url" -c "$1"; }
org=11111111-1111-4111-8111-111111111111
provider=aaaaaaaa-0000-4000-8000-000000000001
contact=cccccccc-0000-4000-8000-000000000001
# book HH: the booking function as bookd calls it, on 2031-05-05 at HH:00.
book() {
  echo "SELECT book_appointment_with_lock('$org', '$provider', '$contact', NULL,
    '2031-05-05 $1:00:00+00', 30, NULL, NULL, ARRAY[$1]::bigint[], '2031-05-05 $1:00:00+00',
    '2031-05-05 $1:30:00+00', 2000, 'system', NULL, NULL, false) ->> 'status';"
}

echo "1..8"
psql -X -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null &&
  "$bookd" migrate --database-url "$url" >"$work/migrate.log" 2>&1 &&
  q "INSERT INTO organizations (id, name, timezone, vapi_secret_hash)
       VALUES ('$org', 'Horizon', 'UTC', sha256('horizon'::bytea));
     INSERT INTO providers (id, org_id, name, working_hours, is_default)
       VALUES ('$provider', '$org', 'Dr H', '{}', true);
     INSERT INTO contacts (id, org_id, name) VALUES ('$contact', '$org', 'H Patient');
     INSERT INTO webhook_endpoints (org_id, url, events, secret, secret_key_id)
       VALUES ('$org', 'https://hooks.example.test/h', '{appointment.booked}', '\\x00', 'k');" >/dev/null
ok $? "a database with an organization and a webhook endpoint"

# H holds an advisory lock (at most 60 s; it is ended as soon as the checks
# below no longer need it). A books at 10:00, then waits for that lock
# inside its transaction, and commits once H has gone.
sessions() { # QUERY: the pids of the sessions of this database running QUERY
  q "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND query = '$1'"
}
psql -X -q "$url" -c "BEGIN" -c "SELECT pg_advisory_xact_lock(4242)" -c "SELECT pg_sleep(60)" \
  >/dev/null 2>&1 &
holder=$!
for _ in $(seq 200); do [[ -n $(sessions 'SELECT pg_sleep(60)') ]] && break; sleep 0.05; done
{
  echo "BEGIN;"
  book 10
  echo "SELECT pg_advisory_xact_lock(4242);"
  echo "COMMIT;"
} | psql -X -q -t -A "$url" -v ON_ERROR_STOP=1 >"$work/a.out" 2>&1 &
a_pid=$!
for _ in $(seq 200); do
  [[ -n $(sessions 'SELECT pg_advisory_xact_lock(4242);') ]] && break
  sleep 0.05
done
[[ $(head -n 1 "$work/a.out") == booked && -n $(sessions 'SELECT pg_advisory_xact_lock(4242);') ]]
ok $? "A booked 10:00 and is still open"

[[ $(q "$(book 11)") == booked ]]
ok $? "B, begun after A, booked 11:00 and committed"

[[ $(q "SELECT outbox_fan_out(100, 0)")/$(q "SELECT count(*) FROM deliveries") == 0/0 ]]
ok $? "while A is open the fan-out takes nothing, not even B's event, which it sees"

[[ $(q "SELECT events || '/' || held_back FROM outbox_fan_out(100, 0, 256, 60000)") == 0/true ]]
ok $? "and the worker's fan-out says events are held back (it looks again soon, not at its poll)"

q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = '$db' AND query = 'SELECT pg_sleep(60)'" >/dev/null
wait "$holder" 2>/dev/null
holder=
wait "$a_pid"
[[ $(q "SELECT count(*) FROM appointments") == 2 ]]
ok $? "A committed once H was gone"

[[ $(q "SELECT outbox_fan_out(100, 0)")/$(q "SELECT outbox_fan_out(100, 0)")/$(q "SELECT count(*) FROM deliveries") == 2/0/2 ]]
ok $? "then both events are fanned out, A's too, each once"

[[ $(q "SELECT events || '/' || held_back FROM outbox_fan_out(100, 0, 256, 60000)") == 0/false ]]
ok $? "with nothing held back, the fan-out says so"
