#!/usr/bin/env bash
# bookd through PgBouncer (Debian's 1.18) in transaction pooling mode, where
# a server session is lent for one transaction at a time
# (docs/design.md, "Running behind PgBouncer"):
#   1. with BOOKD_DB_STATEMENTS=unnamed bookd serves: ready, a booking and
#      its conflict, the list, free slots;
#   2. a statement is still bounded by BOOKD_STATEMENT_TIMEOUT_MS (set in
#      each statement's own transaction, since no startup option gets
#      through);
#   3. the race scenarios across three bookd processes sharing PgBouncer's
#      fewer server sessions (tests/db/races_lib.sh): no double booking,
#      every 201 stored;
#   4. the delivery worker (`bookd worker` and a `serve --no-worker`
#      front-end, both through PgBouncer) delivers every booking's webhook;
#   5. the default, prepared mode through PgBouncer fails clearly: PgBouncer
#      refuses its startup options, bookd is not ready, answers 503 and logs
#      what to set; through a PgBouncer told to ignore them its statements
#      collide on shared sessions, and bookd says the same.
# PgBouncer listens on 127.0.0.1 (a free port, SCRAM with a password made
# for the run) and reaches the cluster by its unix socket; it runs as the
# cluster's owner (`postgres` when this runs as root). Prints TAP.
#   tests/db/pgbouncer_test.sh BOOKD_BINARY  (DATABASE_URL set, migrated: the owner's, host=SOCKET_DIR)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/../.." || exit 1
work=$(mktemp -d)
source scripts/pglib.sh
source tests/db/lib.sh
source tests/db/races_lib.sh

# PgBouncer's files, readable by the user it runs as.
pgb=$(mktemp -d /tmp/bookd-pgbouncer.XXXXXX)
[[ $(id -u) -eq 0 ]] && chown postgres: "$pgb"
started=()
cleanup() {
  stop_bookd
  for p in "${started[@]}"; do stop_pid "$p"; done
  rm -rf "$work" "$pgb"
}
trap cleanup EXIT

echo "1..20"

free_port() {
  node -e 'const s = require("net").createServer();
           s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
# The cluster's socket directory and port, from DATABASE_URL (host=... port=...).
socket_dir=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$DATABASE_URL")
pg_port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$DATABASE_URL")
# The database (the last dbname= wins, as in libpq): bookd, or the one of
# make test's second, sanitized pass.
pg_db=$(sed -n 's/.*dbname=\([^ ]*\).*/\1/p' <<<"$DATABASE_URL")
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
app_user=${BOOKD_TEST_APP_USER:-bookd}

# start_pgbouncer NAME [SETTING...]: a PgBouncer in transaction mode with
# these settings besides; sets `port`. Its PID (from its pidfile) is stopped
# at exit. 20 server sessions for bookd's role, fewer than its clients.
start_pgbouncer() {
  local dir=$pgb/$1; shift
  mkdir -p "$dir"
  port=$(free_port)
  {
    echo "[databases]"
    echo "bookd = host=$socket_dir ${pg_port:+port=$pg_port} dbname=${pg_db:-bookd}"
    echo "[pgbouncer]"
    echo "listen_addr = 127.0.0.1"
    echo "listen_port = $port"
    echo "unix_socket_dir ="
    echo "auth_type = scram-sha-256"
    echo "auth_file = $dir/users.txt"
    echo "pool_mode = transaction"
    echo "admin_users = bookd"
    echo "default_pool_size = 20"
    echo "max_client_conn = 500"
    echo "query_wait_timeout = 10"
    echo "logfile = $dir/pgbouncer.log"
    echo "pidfile = $dir/pgbouncer.pid"
    printf '%s\n' "$@"
  } >"$dir/pgbouncer.ini"
  printf '"%s" "%s"\n' bookd "$password" "$app_user" "$password" >"$dir/users.txt"
  chmod 600 "$dir/users.txt"
  [[ $(id -u) -eq 0 ]] && chown -R postgres: "$dir"
  pg_as_owner pgbouncer -d -q "$dir/pgbouncer.ini" || return 1
  for _ in $(seq 50); do [[ -s $dir/pgbouncer.pid ]] && break; sleep 0.1; done
  [[ -s $dir/pgbouncer.pid ]] || return 1
  started+=("$(cat "$dir/pgbouncer.pid")")
}
# through PORT: the URL of the database through the PgBouncer on PORT, as the
# role bookd serves with.
through() { app_url "host=127.0.0.1 port=$1 dbname=bookd user=bookd password=$password"; }

# 1. PgBouncer up, in transaction mode, in front of the cluster.
command -v pgbouncer >/dev/null || echo "# pgbouncer is not installed (scripts/deps.sh --test installs it)"
[[ -n $socket_dir ]] || echo "# DATABASE_URL has no host=SOCKET_DIR: $DATABASE_URL"
start_pgbouncer tx
tx_port=$port
url=$(through "$tx_port")
for _ in $(seq 50); do psql -X -q -t -A "$url" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
mode=$(psql -X -q -t -A "host=127.0.0.1 port=$tx_port dbname=pgbouncer user=bookd password=$password" \
  -c "SHOW CONFIG" 2>&1 | grep '^pool_mode|' | cut -d'|' -f2)
[[ $(psql -X -q -t -A "$url" -c "SELECT current_user" 2>&1) == "$app_user" && $mode == transaction ]]
ok $? "PgBouncer $(pgbouncer --version | head -n 1 | awk '{print $2}') in ${mode:-unknown} mode on 127.0.0.1:$tx_port reaches the cluster as $app_user"

# 2. One bookd, unnamed, through it: the everyday paths.
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
start_bookd DATABASE_URL="$url" BOOKD_DB_STATEMENTS=unnamed BOOKD_ADMIN_TOKEN="$token" \
  BOOKD_LOCK_TIMEOUT_MS=300 BOOKD_STATEMENT_TIMEOUT_MS=1500
ready=$(curl -s --max-time 5 "$base/ready")
grep -q '"status":"ready"' <<<"$ready"
ok $? "BOOKD_DB_STATEMENTS=unnamed through PgBouncer: /ready answers ready ($ready)"

org=$(curl -s --max-time 10 -X POST "$base/api/orgs" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"name":"Pooled","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(curl -s --max-time 10 -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Pooled Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
book_at() { # book_at ISO OUTFILE [KEY]: prints the status
  curl -s -o "$2" -w '%{http_code}' --max-time 20 -X POST "$base/api/appointments" \
    -H "Authorization: Bearer ${3:-$key}" -H 'Content-Type: application/json' \
    -d "{\"contactId\":\"$contact\",\"scheduledAt\":\"$1\",\"durationMinutes\":30}"
}
first=$(book_at 2032-03-01T10:00:00Z "$work/first")
second=$(book_at 2032-03-01T10:15:00Z "$work/second")
appointment=$(sed -n 's/.*"appointmentId":"\([^"]*\)".*/\1/p' "$work/first")
[[ $first == 201 && $second == 409 ]] && grep -q '"error":"slot_unavailable"' "$work/second" &&
  grep -q "\"id\":\"$appointment\"" "$work/second"
ok $? "a booking through PgBouncer answers 201, an overlapping one 409 naming it ($first, $second)"

list=$(curl -s --max-time 10 "$base/api/appointments?from=2032-03-01T00:00:00Z&to=2032-03-02T00:00:00Z" \
  -H "Authorization: Bearer $key")
slots=$(curl -s --max-time 10 "$base/api/availability?date=2032-03-01&durationMinutes=30" \
  -H "Authorization: Bearer $key")
grep -q "\"id\":\"$appointment\"" <<<"$list" && grep -q '"scheduledAt":"2032-03-01T09:00:00.000Z"' <<<"$slots" &&
  ! grep -q '"scheduledAt":"2032-03-01T10:00:00.000Z"' <<<"$slots"
ok $? "the list shows it and the free slots leave it out (list ${#list} bytes, slots ${#slots} bytes)"

# 3. No startup option reaches the server, yet a statement is bounded: a
# list waiting for a table lock is cut off at the statement timeout.
psql -X -q "$DATABASE_URL" -c "BEGIN; LOCK TABLE appointments IN ACCESS EXCLUSIVE MODE;
  SELECT pg_sleep(60); COMMIT;" >/dev/null 2>&1 &
holder=$!
until_db "$holder_sleeping"
answer=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 20 \
  "$base/api/appointments?from=2032-03-01T00:00:00Z&to=2032-03-02T00:00:00Z" \
  -H "Authorization: Bearer $key")
release_holder
read -r code seconds <<<"$answer"
[[ $code == 503 ]] && awk -v s="$seconds" 'BEGIN { exit !(s >= 1.4 && s < 5) }'
ok $? "a statement through PgBouncer waits at most BOOKD_STATEMENT_TIMEOUT_MS (1.5 s), then 503 ($code after ${seconds} s)"
grep -q 'SQLSTATE 57014' "$work/log"
ok $? "bookd logged the statement timeout (57014)"
errors=$(grep '"level":"error"' "$work/log" | grep -v 'SQLSTATE 57014' | head -n 3)
[[ -z $errors ]]
ok $? "no other error in the log of bookd through PgBouncer${errors:+: $errors}"
stop_bookd

# 4. The races, across three bookd processes through PgBouncer.
races_over "$url" 3 '{"BOOKD_DB_STATEMENTS":"unnamed"}' 2

# 5. The delivery worker through PgBouncer: a front-end without a worker
# and `bookd worker`, each through it. LISTEN has no session to live in
# here, so the worker finds the events by its poll (BOOKD_OUTBOX_POLL_MS).
node tests/db/webhook_receiver.mjs "$work/ports" 2>"$work/receiver.log" &
started+=("$!")
for _ in $(seq 100); do [[ -s "$work/ports" ]] && break; sleep 0.1; done
read -r hook_port _ <"$work/ports"
start_bookd DATABASE_URL="$url" BOOKD_DB_STATEMENTS=unnamed BOOKD_ADMIN_TOKEN="$token" \
  BOOKD_NO_WORKER=true BOOKD_WEBHOOK_ALLOW_PRIVATE=true
env DATABASE_URL="$url" BOOKD_DB_STATEMENTS=unnamed BOOKD_WEBHOOK_ALLOW_PRIVATE=true \
  BOOKD_OUTBOX_POLL_MS=500 "$bookd" worker 2>"$work/worker.log" &
worker=$!
started+=("$worker")
org=$(curl -s --max-time 10 -X POST "$base/api/orgs" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"name":"Pooled hooks","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(curl -s --max-time 10 -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Pooled Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
endpoint=$(curl -s --max-time 10 -X POST "$base/api/webhook-endpoints" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d "{\"url\":\"http://127.0.0.1:$hook_port/hook\",\"events\":[\"appointment.booked\"]}" |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
booked=0
for i in $(seq 0 19); do
  [[ $(book_at "$(date -u -d "2032-04-01 08:00 UTC + $((i * 30)) minutes" +%FT%TZ)" \
    "$work/hook$i") == 201 ]] && booked=$((booked + 1))
done
delivered() {
  [[ $(q "SELECT count(*) = $booked AND bool_and(status = 'delivered') FROM deliveries
          WHERE endpoint_id = '${endpoint:-00000000-0000-0000-0000-000000000000}'") == t ]]
}
for _ in $(seq 100); do delivered && break; sleep 0.2; done
delivered && (( booked == 20 ))
ok $? "bookd worker through PgBouncer delivers every booking's webhook within 20 s ($booked booked; $(q "SELECT count(*) FROM deliveries WHERE status = 'delivered' AND endpoint_id = '${endpoint:-00000000-0000-0000-0000-000000000000}'") delivered)"
errors=$(grep -h '"level":"error"' "$work/worker.log" "$work/log" | head -n 3)
alive "$worker" && [[ -z $errors ]]
ok $? "the worker runs, and neither it nor the front-end logged an error${errors:+: $errors}"
stop_pid "$worker"
# An organization for step 6, made while a working bookd is at hand.
org=$(curl -s --max-time 10 -X POST "$base/api/orgs" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"name":"Prepared","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
org_id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(curl -s --max-time 10 -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Prepared Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
stop_bookd

# 6. The default, prepared mode through PgBouncer fails clearly.
start_bookd DATABASE_URL="$url" BOOKD_ADMIN_TOKEN="$token"
ready=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/ready")
created=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "$base/api/orgs" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"Prepared, refused","timezone":"UTC"}')
[[ $ready == 503 && $created == 503 ]]
ok $? "prepared mode through PgBouncer: not ready, and a request answers 503 (/ready $ready, POST /api/orgs $created)"
grep '"db.connect_failed"' "$work/log" | grep 'unsupported startup parameter' |
  grep -q 'BOOKD_DB_STATEMENTS=unnamed'
ok $? "bookd logs that PgBouncer refused its startup options and that BOOKD_DB_STATEMENTS=unnamed is the setting"
stop_bookd

# Through a PgBouncer that drops the options instead, the statements bookd
# prepares land on sessions other clients share.
start_pgbouncer ignoring "ignore_startup_parameters = options"
start_bookd DATABASE_URL="$(through "$port")" BOOKD_ADMIN_TOKEN="$token"
grep -E '"db.(prepare_failed|statement_missing)"' "$work/log" | grep -q 'BOOKD_DB_STATEMENTS=unnamed'
ok $? "through a PgBouncer that ignores the options, bookd logs that its prepared statements meet other sessions' and names the setting"
codes=()
for i in $(seq 0 9); do
  codes+=("$(book_at "2032-05-03T$(printf %02d $((8 + i))):00:00Z" "$work/p$i")")
done
wins=$(grep -o ' 201' <<<" ${codes[*]}" | wc -l)
stored=$(q "SELECT count(*) FROM appointments WHERE org_id = '${org_id:-00000000-0000-0000-0000-000000000000}'")
[[ $(grep -cvE '^(201|5[0-9][0-9])$' < <(printf '%s\n' "${codes[@]}")) == 0 && $stored == "$wins" ]]
ok $? "and no answer is wrong: each booking is 201 and stored, or 5xx (${codes[*]}; $stored stored)"
