#!/usr/bin/env bash
# The database goes away under a running bookd and comes back: requests get
# a clean 503 with Retry-After (never a crash or a hang), /ready says the
# database is down, /health stays up, and bookd recovers by itself once
# PostgreSQL is back. Uses a PostgreSQL cluster of its own. Prints TAP.
#   tests/db/outage_test.sh BOOKD_BINARY
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
source "$root/scripts/pglib.sh"
mkdir -p "$root/.bookd"
pgdir=$(mktemp -d "$root/.bookd/outage.XXXXXX")
work=$(mktemp -d)
source "$root/tests/db/lib.sh"
trap 'stop_bookd; pg_stop "$pgdir"; rm -rf "$pgdir" "$work"' EXIT

echo "1..11"

pg_start "$pgdir" throwaway >/dev/null 2>&1
url=$(pg_conninfo "$pgdir")
(cd "$root" && "$bookd" migrate --database-url "$url" >/dev/null 2>&1)
start_bookd DATABASE_URL="$(app_url "$url")" BOOKD_ADMIN_TOKEN=outage-token BOOKD_POOL_SIZE=4 \
  BOOKD_POOL_WAIT_MS=500

# status METHOD PATH [BODY]: prints the HTTP status (000 on no answer).
status() {
  local args=(-s -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 10 -X "$1"
              "$base$2" -H "Authorization: Bearer $key")
  [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}
key=outage-token
org=$(curl -s -X POST "$base/api/orgs" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Outage","timezone":"UTC"}')
key=$(sed -n 's/.*"adminKey":"\([^"]*\)".*/\1/p' <<<"$org")
contact=$(curl -s -X POST "$base/api/contacts" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"name":"Outage Patient"}' |
  sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
booking() { echo "{\"contactId\":\"$contact\",\"scheduledAt\":\"2031-03-03T$1:00Z\",\"durationMinutes\":30}"; }
[[ $(status POST /api/appointments "$(booking 09:00)") == 201 ]]
ok $? "a booking succeeds while the database is up"

pg_stop "$pgdir"
code=$(status POST /api/appointments "$(booking 10:00)")
[[ $code == 503 ]] && grep -q '"error":"unavailable"' "$work/body" &&
  grep -qi '^Retry-After:' "$work/headers"
ok $? "with the database down, booking answers 503 unavailable with Retry-After (got $code)"
[[ $(status GET /ready) == 503 ]] && grep -q '"database":"down"' "$work/body"
ok $? "/ready answers 503 with database down"
[[ $(status GET /health) == 200 ]]
ok $? "/health still answers 200"
kill -0 "$pid"
ok $? "bookd is still running"

pg_start "$pgdir" throwaway >/dev/null 2>&1
recovered=1
for _ in $(seq 60); do
  if [[ $(status POST /api/appointments "$(booking 11:00)") == 201 ]]; then recovered=0; break; fi
  sleep 0.25
done
ok $recovered "once PostgreSQL is back, bookings succeed again without a restart"
[[ $(status GET /ready) == 200 ]]
ok $? "/ready answers 200 again"
[[ $(status GET "/api/appointments?from=2031-03-03T00:00:00Z&to=2031-03-04T00:00:00Z") == 200 ]] &&
  [[ $(grep -o '"status":"confirmed"' "$work/body" | wc -l) == 2 ]]
ok $? "exactly the two bookings that were answered 201 exist"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
ok $rc "bookd exits cleanly on SIGTERM after the outage (exit $rc)"

# Several hosts (a primary and a standby, say host=a,b): the first accepts
# the connection and never answers, as a machine that died behind a live
# port forward would. Each host gets its own share of the connect deadline,
# so bookd starts and serves through the second within seconds, and keeps
# to it (a black hole taking the whole deadline every time would leave
# /ready at 503 for good).
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64); s.settimeout(0.5)
print(s.getsockname()[1], flush=True)
held, end = [], time.time() + 60
while time.time() < end and sys.stdin.read(0) == "":
    try: held.append(s.accept()[0])
    except OSError: pass
' >"$work/hole" </dev/null &
hole=$!
for _ in $(seq 100); do [[ -s "$work/hole" ]] && break; sleep 0.1; done
t0=$(date +%s%3N)
start_bookd DATABASE_URL="$(app_url "host=127.0.0.1,$(pg_socket_dir "$pgdir") port=$(cat "$work/hole"),5432 dbname=bookd user=bookd")" \
  BOOKD_ADMIN_TOKEN=outage-token BOOKD_POOL_SIZE=4 BOOKD_POOL_WAIT_MS=500
code=000
for _ in $(seq 80); do
  code=$(status GET /ready)
  [[ $code == 200 ]] && break
  sleep 0.25
done
waited=$(( $(date +%s%3N) - t0 ))
(( waited < 15000 )) && [[ $code == 200 ]]
ok $? "with a first host that never answers, bookd is ready through the second ($waited ms)"
[[ $(status POST /api/appointments "$(booking 12:00)") == 201 ]]
ok $? "and books through it"
stop_bookd
kill "$hole" 2>/dev/null
wait "$hole" 2>/dev/null || true # its SIGTERM is not this test's status
