# Shared by the shell tests in tests/db: TAP output, SQL, waiting on the
# database, and a bookd of the test's own. Source it after setting `bookd`
# (the binary) and `work` (a scratch directory); q and until_db use DATABASE_URL.

n=0
pid=
# ok STATUS DESCRIPTION: one TAP line.
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

q() { psql -X -q -t -A "$DATABASE_URL" -c "$1"; }

# app_url [URL]: URL (default DATABASE_URL, the owner's) as the role bookd
# serves with, BOOKD_TEST_APP_USER (scripts/test.sh: bookd_app, which may
# only execute the API functions); a later keyword wins in a conninfo.
app_url() { echo "${1:-${DATABASE_URL:-}}${BOOKD_TEST_APP_USER:+ user=$BOOKD_TEST_APP_USER}"; }

# until_db SQL_CONDITION: waits (at most 10 s) until the condition holds in
# the database, so that each step starts only once the previous one is in place.
until_db() {
  for _ in $(seq 100); do [[ $(q "SELECT ($1)") == t ]] && return 0; sleep 0.1; done
  return 1
}

# start_bookd [VAR=VALUE...]: (re)starts bookd on a free port with the
# given settings; sets `pid` and `base`.
start_bookd() {
  if [[ -n "$pid" ]]; then kill "$pid"; wait "$pid"; fi
  : >"$work/log"
  env BOOKD_LISTEN=127.0.0.1:0 DATABASE_URL="$(app_url)" "$@" "$bookd" serve 2>"$work/log" &
  pid=$!
  await_base "$work/log" "$pid"
}

# await_base LOG PID: waits (10 s at most, and only while PID lives) for
# the address bookd logs once it listens; sets `base` (empty if none came).
await_base() {
  base=
  for _ in $(seq 100); do
    base=$(grep -o 'http://127.0.0.1:[0-9]*' "$1" | head -n 1)
    [[ -n "$base" ]] && break
    alive "$2" || break
    sleep 0.1
  done
}

stop_bookd() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  pid=
}

# A holder is a psql session that takes a lock and then sleeps far longer
# than any step takes (pg_sleep(60)); the test ends it, so that no step
# depends on the machine being fast. A cancelled holder rolls back and lets
# go of its locks. `holder` is its psql's PID.
holder_sleeping="EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep')"
release_holder() {
  q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
  wait "$holder" 2>/dev/null
  until_db "NOT $holder_sleeping"
}

# alive PID: the process runs (it is not gone, nor a zombie not yet waited for).
alive() { [[ -e /proc/$1 && $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }
# stop_pid PID [SIGNAL]: signals PID (TERM unless told), waits for it to end
# (at most 15 s, then KILL) and sets `rc` to its exit status.
stop_pid() {
  local p=$1 sig=${2:-TERM}
  kill -"$sig" "$p" 2>/dev/null
  for _ in $(seq 150); do alive "$p" || break; sleep 0.1; done
  alive "$p" && kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  rc=$?
}

# progress FIELD: a field of the fault load's progress file ($progress_file,
# written by tests/db/fault_load.mjs), 0 until there is one.
progress() { jq -r ".$1 // 0" "$progress_file" 2>/dev/null || echo 0; }
# until_booked_since MS: waits (15 s at most) until a booking of the load
# started at or after MS was answered 201.
until_booked_since() {
  for _ in $(seq 150); do
    (( $(progress last201Start) >= $1 )) && return 0
    sleep 0.1
  done
  return 1
}

# new_org NAME [HOOK_PATH]: an organization (made with the server admin
# token, `token`; up to five tries, a second apart, while bookd cannot make
# it), its default and two more providers, a contact and, with HOOK_PATH, a
# webhook endpoint for appointment.booked at the receiver on `hook_port`.
# Sets key, org_id, providers (comma-separated), contact, endpoint (empty
# without HOOK_PATH) and secret; 1 when the organization was not made.
# Needs `http METHOD PATH [BODY]` (the status; the body in $work/body).
new_org() {
  local code=
  key=$token
  for _ in 1 2 3 4 5; do
    code=$(http POST /api/orgs "{\"name\":\"$1\",\"timezone\":\"UTC\"}")
    [[ $code == 201 ]] && break
    sleep 1
  done
  [[ $code == 201 ]] || return 1
  key=$(jq -r .adminKey "$work/body")
  org_id=$(jq -r .id "$work/body")
  providers=$(jq -r .defaultProviderId "$work/body")
  for name in Second Third; do
    http POST /api/providers "{\"name\":\"$name\"}" >/dev/null
    providers+=,$(jq -r .id "$work/body")
  done
  http POST /api/contacts "{\"name\":\"$1 Patient\"}" >/dev/null
  contact=$(jq -r .id "$work/body")
  endpoint= secret=
  if [[ -n "${2:-}" ]]; then
    http POST /api/webhook-endpoints \
      "{\"url\":\"http://127.0.0.1:$hook_port$2\",\"events\":[\"appointment.booked\"]}" >/dev/null
    endpoint=$(jq -r .id "$work/body")
    secret=$(jq -r .secret "$work/body")
  fi
}
