#!/usr/bin/env bash
# make soak, failover: bookd on a two-node Patroni cluster with synchronous
# replication, its primary lost under booking load, again and again.
#
# Everything on 127.0.0.1, on free ports, in a directory made for the run
# under .bookd/ and removed after: one etcd (Patroni's DCS), two Patroni
# nodes (PostgreSQL from pg_bindir, as the `postgres` user when run as
# root) with synchronous_mode, synchronous_commit on and the settings of
# docs/operations.md, and one bookd whose DATABASE_URL names both nodes:
#   host=127.0.0.1,127.0.0.1 port=P1,P2 target_session_attrs=read-write
# Once the cluster has a leader and a synchronous standby, bookd migrates,
# serves, and takes the fault load (tests/db/fault_load.mjs: 6 clients, an
# Idempotency-Key per request, every answer recorded) for SOAK_SECONDS
# (default 60) per phase: first with synchronous_mode_strict off, then on
# (PATRONI_MODES="sync strict"). Meanwhile whichever node leads is lost, in
# turn, as
#   pg_kill9    its postmaster killed with SIGKILL; Patroni lives on, sees
#               it gone and fails over (primary_start_timeout 0) rather
#               than restart it, then rejoins it as a standby (pg_rewind)
#   node_kill9  its Patroni and its postmaster killed with SIGKILL at once
#               (the machine gone): the leader key expires (ttl), the
#               standby takes over; the node's Patroni is then started
#               again and rejoins as a standby
# Each fault waits for a leader and a synchronous standby first (a fault
# with no standby in sync is not a failover), then for the new primary, the
# lost node back in sync and a booking answered 201. Afterwards the checker
# holds every answer against the last primary (every 201 stored and
# confirmed, in-doubt requests replayed with their key, nothing stored that
# was not answered 201 or in doubt, no overlap, every booking's event in the
# outbox), every booking's webhook must reach a local receiver, and the
# standby must hold the same confirmed appointments as the primary. Writes
# the "## Failover" section of bench/RELIABILITY.md (SOAK_OUT), keeping the
# rest of the file. Exits 1 when a promise is broken (lost, double, a lie,
# no recovery, a 500).
#
#   scripts/patroni_soak.sh             SOAK_SECONDS=60 SOAK_BOOKD=build/bookd
#                                       PATRONI_MODES="sync strict"
#   scripts/patroni_soak.sh --test [BOOKD]  one pg_kill9 under a short load,
#                                       TAP on stdout, bench/ left alone
#                                       (make test; about 45 s)
# SOAK_KEEP=1 keeps the scratch directories (logs). Every process this
# script starts is stopped by its PID at the end, whatever happens, and
# every wait is bounded.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/pglib.sh

test_mode=
[[ "${1:-}" == --test ]] && test_mode=1
seconds=${SOAK_SECONDS:-60}
[[ -n "$test_mode" ]] && seconds=8
bookd=$root/${SOAK_BOOKD:-build/bookd}
[[ -n "$test_mode" && -n "${2:-}" ]] && bookd=$(realpath "$2")
out=${SOAK_OUT:-bench/RELIABILITY.md}
modes=(${PATRONI_MODES:-sync strict})
[[ -n "$test_mode" ]] && modes=(sync)
for m in "${modes[@]}"; do [[ $m == sync || $m == strict ]] || { echo "PATRONI_MODES: sync or strict, not $m" >&2; exit 2; }; done
here=$root/tests/db
# The cluster's timing (docs/operations.md explains each).
ttl=20 loop_wait=2 retry_timeout=5

say() { echo "patroni_soak: [$(date +%T)] $*" >&2; }
now_ms() { date +%s%3N; }
# In --test mode the findings are TAP lines; a setup that fails is one
# "not ok" and the plan says how many did not run.
planned=9
fail_setup() {
  say "$*"
  if [[ -n "$test_mode" ]]; then
    echo "1..$planned"
    echo "not ok 1 - failover setup: $*"
  fi
  exit 1
}

[[ -x "$bookd" ]] || fail_setup "$bookd is missing (make all)"
for c in patroni etcd node jq curl psql; do
  command -v "$c" >/dev/null 2>&1 || fail_setup "$c is missing (scripts/deps.sh --test)"
done
bin=$(pg_bindir) || fail_setup "no PostgreSQL server (scripts/deps.sh)"
work=$(mktemp -d)
source "$here/lib.sh" # alive, stop_pid, q, progress, until_booked_since
mkdir -p .bookd
dir=$(mktemp -d "$root/.bookd/patroni.XXXXXX")
chmod 755 "$dir"

started=()      # bookd, the load, the receiver: stopped first in cleanup
launchers=()    # runuser (as root) or the shell that exec'd Patroni
patroni_pid=()  # per node (1, 2): Patroni's own PID
etcd_pid=
cleanup() {
  local p i pm
  trap - EXIT INT TERM
  # bookd, the load, the receiver; then both Patroni nodes at once (each
  # stops its PostgreSQL), any postmaster left, the launchers (which end
  # with their Patroni: runuser told to stop would kill it after 2 s), etcd.
  for p in "${started[@]}"; do alive "$p" && stop_pid "$p"; done
  for i in 1 2; do [[ -n "${patroni_pid[$i]:-}" ]] && alive "${patroni_pid[$i]}" && kill -TERM "${patroni_pid[$i]}"; done
  for i in 1 2; do [[ -n "${patroni_pid[$i]:-}" ]] && stop_pid "${patroni_pid[$i]}"; done
  for i in 1 2; do
    pm=$(postmaster_pid "$i")
    if [[ -n "$pm" ]]; then stop_pid "$pm" QUIT; fi
  done
  for p in "${launchers[@]}"; do stop_pid "$p"; done
  [[ -n "$etcd_pid" ]] && stop_pid "$etcd_pid"
  if [[ -n "${SOAK_KEEP:-}" ]]; then
    say "kept $dir and $work"
  else
    rm -rf "$dir" "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free ports on 127.0.0.1: etcd (client, peer), PostgreSQL and Patroni's
# REST API of each node.
read -r etcd_port peer_port pg_port1 pg_port2 rest_port1 rest_port2 < <(node -e '
  const net = require("net"); const servers = [];
  (async () => { for (let i = 0; i < 6; i++) { const s = net.createServer();
    await new Promise((r) => s.listen(0, "127.0.0.1", r)); servers.push(s); }
    console.log(servers.map((s) => s.address().port).join(" "));
    servers.forEach((s) => s.close()); })();')
[[ -n "${rest_port2:-}" ]] || fail_setup "no free ports"
pg_port=("" "$pg_port1" "$pg_port2")
rest_port=("" "$rest_port1" "$rest_port2")
scope=bookd-$(basename "$dir")

# --- etcd --------------------------------------------------------------------
etcd --name soak --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-cluster "soak=http://127.0.0.1:$peer_port" --initial-cluster-state new \
  --initial-cluster-token "$scope" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
deadline=$(( SECONDS + 20 ))
while (( SECONDS < deadline )); do
  curl -s --max-time 1 "http://127.0.0.1:$etcd_port/health" | grep -q '"health":"true"' && break
  alive "$etcd_pid" || break
  sleep 0.1
done
curl -s --max-time 1 "http://127.0.0.1:$etcd_port/health" | grep -q '"health":"true"' ||
  { tail -n 5 "$work/etcd.log" >&2; fail_setup "etcd did not start"; }

# --- Patroni -------------------------------------------------------------------
# node_config N: node N's patroni.yml (the cluster-wide part, under
# bootstrap.dcs, is written to etcd by whichever node bootstraps).
node_config() {
  local n=$1
  cat <<EOF
scope: $scope
name: node$n
log:
  level: WARNING
  format: '%(asctime)s node$n %(levelname)s: %(message)s'
restapi:
  listen: 127.0.0.1:${rest_port[$n]}
  connect_address: 127.0.0.1:${rest_port[$n]}
etcd3:
  hosts: 127.0.0.1:$etcd_port
bootstrap:
  dcs:
    ttl: $ttl
    loop_wait: $loop_wait
    retry_timeout: $retry_timeout
    maximum_lag_on_failover: 1048576
    primary_start_timeout: 0
    synchronous_mode: true
    synchronous_mode_strict: false
    synchronous_node_count: 1
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        synchronous_commit: 'on'
        max_connections: 200
        max_locks_per_transaction: 256
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        wal_log_hints: 'on'
        hot_standby: 'on'
  initdb:
  - encoding: UTF8
  - no-locale
  - data-checksums
postgresql:
  listen: 127.0.0.1:${pg_port[$n]}
  connect_address: 127.0.0.1:${pg_port[$n]}
  data_dir: $dir/node$n/data
  bin_dir: $bin
  pgpass: $dir/node$n/pgpass
  pg_ctl_timeout: 60
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
  basebackup:
  - checkpoint: fast
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
  parameters:
    unix_socket_directories: '$dir/node$n'
    shared_buffers: 128MB
    log_min_messages: warning
  pg_hba:
  - local all all trust
  - host all all 127.0.0.1/32 trust
  - host replication replicator 127.0.0.1/32 trust
watchdog:
  mode: 'off'
EOF
}
for n in 1 2; do
  mkdir -p "$dir/node$n"
  node_config "$n" >"$dir/node$n/patroni.yml"
  [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$dir/node$n"
done
if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -w "$dir/node1"; then
  fail_setup "user postgres cannot reach $dir (a parent directory is not searchable)"
fi

# start_node N: Patroni of node N in the background, as the cluster's
# owner; its own PID (exec'd by the shell that wrote it) in patroni_pid[N].
start_node() {
  local n=$1 f=$dir/node$n/patroni.pid
  rm -f "$f"
  pg_as_owner bash -c 'echo $$ >"$0"; exec patroni "$1"' "$f" "$dir/node$n/patroni.yml" \
    >>"$work/node$n.log" 2>&1 &
  launchers+=($!)
  patroni_pid[$n]=
  for _ in $(seq 50); do [[ -s "$f" ]] && break; sleep 0.1; done
  patroni_pid[$n]=$(cat "$f" 2>/dev/null)
}
# postmaster_pid N: the PID of node N's running postmaster, or nothing (its
# postmaster.pid names a live process that is a postgres of that data dir).
postmaster_pid() {
  local d=$dir/node$1/data p
  p=$(head -n 1 "$d/postmaster.pid" 2>/dev/null) || return 0
  [[ $p =~ ^[0-9]+$ ]] && alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$d" && echo "$p"
}
# cluster: Patroni's view of the cluster (GET /cluster), from whichever
# node answers.
cluster() {
  local n j
  for n in 1 2; do
    j=$(curl -s --max-time 1 "http://127.0.0.1:${rest_port[$n]}/cluster") && [[ -n "$j" ]] &&
      jq -e .members >/dev/null 2>&1 <<<"$j" && { echo "$j"; return 0; }
  done
  return 1
}
leader() { cluster | jq -r '.members[] | select(.role == "leader" and .state == "running") | .name' | head -n 1; }
sync_standby() {
  cluster | jq -r '.members[] | select(.role == "sync_standby" and (.state == "running" or .state == "streaming")) | .name' | head -n 1
}
# writable N: node N's PostgreSQL accepts writes (not in recovery).
writable() {
  [[ $(psql -X -q -t -A "host=127.0.0.1 port=${pg_port[$1]} user=postgres dbname=postgres connect_timeout=2" \
        -c 'SELECT NOT pg_is_in_recovery()' 2>/dev/null) == t ]]
}
# until_healthy SECONDS: waits for a leader that takes writes and a
# synchronous standby; sets `lead` and `standby` (node1 / node2).
until_healthy() {
  local deadline=$(( $(date +%s) + $1 ))
  while (( $(date +%s) < deadline )); do
    lead=$(leader)
    standby=$(sync_standby)
    if [[ -n "$lead" && -n "$standby" && "$lead" != "$standby" ]] && writable "${lead#node}"; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

load_avg=$(cut -d' ' -f1 /proc/loadavg)
say "etcd on $etcd_port; PostgreSQL on $pg_port1, $pg_port2; Patroni on $rest_port1, $rest_port2"
start_node 1
deadline=$(( SECONDS + 90 ))
while (( SECONDS < deadline )); do
  [[ $(leader) == node1 ]] && writable 1 && break
  alive "${patroni_pid[1]:-0}" || break
  sleep 0.1
done
[[ $(leader) == node1 ]] || { tail -n 20 "$work/node1.log" >&2; fail_setup "node1 did not bootstrap within 90 s"; }
# The schema's owner (bookd: migrations, the checker's reads) and the role
# bookd serves with (bookd_app, a member of bookd_api: sql/99_privileges.sql).
psql -X -q "host=127.0.0.1 port=$pg_port1 user=postgres dbname=postgres" \
  -c 'CREATE ROLE bookd LOGIN' -c 'CREATE DATABASE bookd OWNER bookd' \
  -c 'CREATE ROLE bookd_api NOLOGIN' -c 'CREATE ROLE bookd_app LOGIN IN ROLE bookd_api' >/dev/null ||
  fail_setup "could not create the roles and the database"
start_node 2
until_healthy 120 || { tail -n 20 "$work/node2.log" >&2; fail_setup "no synchronous standby within 120 s"; }
# set_strict true|false: synchronous_mode_strict for the whole cluster
# (Patroni's dynamic configuration, PATCH /config), seen by both nodes. The
# cluster is bootstrapped without it: a primary in strict mode with no
# standby yet waits forever for its own first commits (the post-bootstrap
# roles).
set_strict() {
  local want=$1 n deadline=$(( SECONDS + 30 )) ok
  curl -s --max-time 5 -X PATCH "http://127.0.0.1:${rest_port[${lead#node}]}/config" \
    -d "{\"synchronous_mode_strict\": $want}" >/dev/null || return 1
  while (( SECONDS < deadline )); do
    ok=1
    for n in 1 2; do
      [[ $(curl -s --max-time 1 "http://127.0.0.1:${rest_port[$n]}/config" | jq -r '.synchronous_mode_strict // false') == "$want" ]] || ok=
    done
    [[ -n "$ok" ]] && return 0
    sleep 0.2
  done
  return 1
}
setup_s=$SECONDS
say "cluster up in $setup_s s: leader $lead, synchronous standby $standby"

export DATABASE_URL="host=127.0.0.1,127.0.0.1 port=$pg_port1,$pg_port2 dbname=bookd user=bookd target_session_attrs=read-write"
"$bookd" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; fail_setup "migrate failed"; }
# bookd serves as bookd_app where the schema grants bookd_api its API (a
# schema without sql/99_privileges.sql grants it nothing: then as the owner).
app_url=$DATABASE_URL
[[ $(q "SELECT count(*) > 0 FROM information_schema.role_routine_grants WHERE grantee = 'bookd_api'") == t ]] &&
  app_url="$DATABASE_URL user=bookd_app"

# --- bookd, the receiver, the organization ---------------------------------------
export BOOKD_SECRET_KEY=${BOOKD_SECRET_KEY:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}
app_name=bookd-failover
token=soak-token
node "$here/webhook_receiver.mjs" "$work/ports" 2>"$work/receiver.log" &
started+=($!)
for _ in $(seq 100); do [[ -s "$work/ports" ]] && break; sleep 0.1; done
read -r hook_port control_port <"$work/ports"
rcv() { curl -s --max-time 10 -X POST "http://127.0.0.1:$control_port$1" -d "${2:-}"; }

instance=0
start_api() {
  local log=$work/api.$(( instance++ )).log want=${port:-0}
  env BOOKD_LISTEN="127.0.0.1:$want" DATABASE_URL="$app_url application_name=$app_name" \
    BOOKD_ADMIN_TOKEN=$token BOOKD_RATE_LIMIT_ADMIN=1000000/1000000 \
    BOOKD_POOL_SIZE=8 BOOKD_POOL_WAIT_MS=500 \
    BOOKD_WEBHOOK_ALLOW_PRIVATE=true BOOKD_OUTBOX_POLL_MS=200 \
    BOOKD_WEBHOOK_RETRY_SCHEDULE=0,1,1,2,2,5,5,10 BOOKD_DELIVERY_LEASE_MS=2000 \
    "$bookd" serve 2>"$log" &
  api=$!
  started+=("$api")
  await_base "$log" "$api"
  port=${base##*:}
}
crashes=0
alive_or_crash() {
  alive "$api" && return 0
  wait "$api" 2>/dev/null
  echo "bookd exited by itself (status $?)" >>"$work/crashes"
  crashes=$(( crashes + 1 ))
  start_api
}
http() {
  local args=(-s -o "$work/body" -w '%{http_code}' --max-time 10 -X "$1" "$base$2"
              -H "Authorization: Bearer $key")
  [[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' -d "$3")
  curl "${args[@]}"
}
start_api
[[ -n "$base" ]] || { cat "$work/api.0.log" >&2; fail_setup "bookd did not start"; }
new_org Failover /hook/failover ||
  fail_setup "POST /api/orgs answered $(head -c 300 "$work/body")"
rcv /config "{\"path\":\"/hook/failover\",\"secret\":\"$secret\",\"delayMinMs\":5,\"delayMaxMs\":30,\"workers\":[]}" >/dev/null
[[ $org_id =~ ^[0-9a-f-]{36}$ && $contact =~ ^[0-9a-f-]{36}$ && $endpoint =~ ^[0-9a-f-]{36}$ ]] ||
  fail_setup "could not set up an organization"

# --- the load and the faults ---------------------------------------------------
progress_file=$work/progress
node "$here/fault_load.mjs" load --base "$base" --key "$key" --contact "$contact" \
  --providers "$providers" --start "2070-01-01T00:00:00Z" --clients 6 \
  --seconds $(( seconds * ${#modes[@]} + 240 )) --timeout-ms 10000 --backoff-ms 100 \
  --out "$work/load.jsonl" --progress "$progress_file" --stop-file "$work/stop" \
  --tag failover 2>"$work/load.err" &
load=$!
started+=("$load")
load_start=$(date +%s)
until_booked_since "$(now_ms)" || say "no booking answered 201 before the first fault"

kinds=(pg_kill9 node_kill9)
[[ -n "$test_mode" ]] && kinds=(pg_kill9)
faults=0
: >"$work/faults"   # KIND KILL_MS PROMOTED_MS, one a fault (fault_load.mjs check --faults)
: >"$work/failover" # KIND MS: kill to the other node leading and taking writes (-1: never)
: >"$work/rejoin"   # KIND MS: kill to a leader with a synchronous standby again (-1: never)
unhealthy=
for mode in "${modes[@]}"; do
  if ! set_strict "$([[ $mode == strict ]] && echo true || echo false)"; then
    unhealthy="could not set synchronous_mode_strict for the $mode phase"
    say "$unhealthy"
    break
  fi
  phase_end=$(( $(date +%s) + seconds ))
  phase_faults=0
  say "$mode phase: $seconds s"
  while (( $(date +%s) + 2 < phase_end )) || (( phase_faults == 0 )); do
    if ! until_healthy 90; then
      unhealthy="no leader with a synchronous standby within 90 s after fault $faults"
      say "$unhealthy"
      break
    fi
    sleep 2 # steady load
    alive_or_crash
    kind=${kinds[$(( phase_faults % ${#kinds[@]} ))]}
    [[ $mode == strict ]] && kind+=_strict
    n=${lead#node}
    other=$(( 3 - n ))
    pm=$(postmaster_pid "$n")
    [[ -n "$pm" ]] || { unhealthy="no postmaster found for the leader $lead"; say "$unhealthy"; break; }
    at=$(now_ms)
    case $kind in
      pg_kill9*) kill -KILL "$pm" ;;
      node_kill9*) kill -KILL "${patroni_pid[$n]}" "$pm" ;;
    esac
    faults=$(( faults + 1 ))
    phase_faults=$(( phase_faults + 1 ))
    say "fault $faults: $kind of $lead (postmaster $pm)"
    promoted=
    deadline=$(( SECONDS + 90 ))
    while (( SECONDS < deadline )); do
      if [[ $(leader) == "node$other" ]] && writable "$other"; then promoted=$(now_ms); break; fi
      sleep 0.1
    done
    if [[ -z "$promoted" ]]; then
      unhealthy="fault $faults ($kind): node$other did not take over within 90 s"
      say "$unhealthy"
      echo "$kind $at $at" >>"$work/faults"
      echo "$kind -1" >>"$work/failover"
      break
    fi
    echo "$kind $at $promoted" >>"$work/faults"
    echo "$kind $(( promoted - at ))" >>"$work/failover"
    if [[ $kind == node_kill9* ]]; then
      stop_pid "${patroni_pid[$n]}" KILL # reaps it (already dead)
      start_node "$n"
    fi
    # The lost node back as the synchronous standby (pg_rewind, or a new
    # copy); a booking answered 201 meanwhile (in strict mode, not before).
    if until_healthy 90; then
      echo "$kind $(( $(now_ms) - at ))" >>"$work/rejoin"
    else
      echo "$kind -1" >>"$work/rejoin"
    fi
    until_booked_since "$promoted" || say "fault $faults: no booking answered 201 within 15 s"
    [[ -n "$test_mode" ]] && break
  done
  [[ -n "$unhealthy" ]] && break
done
touch "$work/stop"
for _ in $(seq 200); do alive "$load" || break; sleep 0.1; done
wait "$load"
alive_or_crash
load_s=$(( $(date +%s) - load_start ))

# --- the checks ----------------------------------------------------------------
# The standby back in sync before the checks, so it can be compared.
until_healthy 90 || say "no synchronous standby at the end"
node "$here/fault_load.mjs" check --db "$DATABASE_URL" --org "$org_id" --records "$work/load.jsonl" \
  --base "$base" --key "$key" --faults "$work/faults" --summary "$work/summary" \
  --ids-out "$work/ids" --rids-out "$work/rids" --outbox --label failover \
  >"$work/check" 2>&1
sed 's/^# /patroni_soak: /' "$work/check" >&2
while IFS='=' read -r name value; do
  [[ $name =~ ^[a-z0-9_]+$ ]] && printf -v "c_$name" '%s' "$value"
done <"$work/summary"
v() { local n="c_$1"; echo "${!n:-?}"; }

# From each kill to the first booking answered 201 among those started once
# the other node took writes (a booking sent just after the kill may still
# commit on the dying primary: its backends and walsender outlive the
# postmaster for a moment).
: >"$work/first201"
while read -r kind at promoted; do
  echo "$kind $(jq -n --argjson k "$at" --argjson p "$promoted" \
    '[inputs | select(.st == 201 and .t0 >= $p) | .t1] | if length == 0 then -1 else min - $k end' \
    "$work/load.jsonl")" >>"$work/first201"
done <"$work/faults"

# The standby holds what the primary holds: same confirmed appointments,
# once it has replayed the primary's WAL up to now.
standby_agrees=no
if until_healthy 30; then
  sn=${standby#node}
  ln=${lead#node}
  lsn=$(psql -X -q -t -A "host=127.0.0.1 port=${pg_port[$ln]} user=postgres dbname=bookd" -c 'SELECT pg_current_wal_lsn()')
  sq() { psql -X -q -t -A "host=127.0.0.1 port=${pg_port[$1]} user=postgres dbname=bookd" -c "$2"; }
  for _ in $(seq 100); do
    [[ $(sq "$sn" "SELECT pg_last_wal_replay_lsn() >= '$lsn'") == t ]] && break
    sleep 0.1
  done
  digest="SELECT count(*) || ' ' || md5(coalesce(string_agg(id::text, ',' ORDER BY id), ''))
          FROM appointments WHERE org_id = '$org_id' AND status = 'confirmed'"
  on_primary=$(sq "$ln" "$digest")
  on_standby=$(sq "$sn" "$digest")
  [[ -n "$on_primary" && "$on_primary" == "$on_standby" ]] && standby_agrees=yes
  say "confirmed on the primary ($lead): ${on_primary%% *}, on the standby ($standby): ${on_standby%% *}"
fi

# Every booking's webhook at the receiver (at least once).
want=$(grep -c . "$work/ids")
st=
deadline=$(( SECONDS + 60 ))
while (( SECONDS < deadline )); do
  st=$(rcv /stats "{\"expect\":\"$work/ids\"}")
  [[ $(jq -r .lost <<<"$st") == 0 ]] && break
  sleep 0.2
done
hooks_lost=$(jq -r '.lost // "?"' <<<"$st")
delivered="$(jq -r .acceptedAppointments <<<"$st") of $want ($(jq -r .duplicates <<<"$st") duplicates, $hooks_lost lost)"

stop_pid "$api"
(( rc == 0 )) || { echo "bookd exited $rc on the last SIGTERM" >>"$work/crashes"; crashes=$(( crashes + 1 )); }

max_median() { # max / median of the numbers on stdin (-1: a never)
  sort -n | awk '{ a[n++] = $1 } END { if (!n) { print "–"; exit }
    if (a[0] < 0) { print "never"; exit } printf "%d / %d", a[n - 1], a[int((n - 1) / 2)] }'
}
of_kind() { awk -v k="$1" '$1 == k {print $2}' "$2" | max_median; } # KIND FILE ("KIND VALUE" lines)
# What the clients got from each kill to the first booking answered 201
# after it: 503s (each with Retry-After, or counted below), requests cut
# off (their connection closed: bookd withholds an answer it cannot know)
# and requests without an answer within the load's 10 s.
: >"$work/outage"
paste -d' ' "$work/faults" "$work/first201" | while read -r kind at promoted _ first; do
  upto=$(( first < 0 ? promoted : at + first ))
  echo "$kind $(jq -n -r --argjson a "$at" --argjson b "$upto" \
    '[inputs | select(.t1 >= $a and .t1 <= $b)] | "\(map(select(.st == 503)) | length) \(map(select(.st == 0 and .ek != "timeout")) | length) \(map(select(.st == 0 and .ek == "timeout")) | length)"' \
    "$work/load.jsonl")" >>"$work/outage"
done
never=$(awk '$2 < 0' "$work/first201" | wc -l)
failover_all=$(awk '{print $2}' "$work/failover" | max_median)
recovery_all=$(awk '{print $2}' "$work/first201" | max_median)

# --- the verdict ---------------------------------------------------------------
problems=()
[[ -s "$work/summary" ]] || problems+=("the checker did not finish: $(grep -v '^#' "$work/check" | tail -n 1)")
(( faults > 0 )) || problems+=("no fault was injected")
[[ -z "$unhealthy" ]] || problems+=("$unhealthy")
[[ $(v lost) == 0 ]] || problems+=("lost $(v lost)")
[[ $(v double) == 0 ]] || problems+=("double bookings $(v double)")
[[ $(v lies) == 0 ]] || problems+=("stored though answered otherwise $(v lies)")
[[ $(v replay_mismatch) == 0 ]] || problems+=("replays contradicting the database $(v replay_mismatch)")
[[ $(v in_doubt_unresolved) == 0 ]] || problems+=("in doubt and unresolved $(v in_doubt_unresolved)")
[[ $(v missing_events) == 0 && $(v duplicate_events) == 0 ]] ||
  problems+=("outbox: missing $(v missing_events), twice $(v duplicate_events)")
[[ $(v s500) == 0 ]] || problems+=("500s $(v s500)")
[[ $(v s503_no_retry_after) == 0 ]] || problems+=("503s without Retry-After $(v s503_no_retry_after)")
(( never == 0 )) || problems+=("$never faults without a booking answered 201 afterwards")
[[ $standby_agrees == yes ]] || problems+=("the standby does not hold what the primary holds")
[[ $hooks_lost == 0 ]] || problems+=("webhooks never arrived: $hooks_lost")
(( crashes == 0 )) || problems+=("bookd crashes $crashes")

if [[ -n "$test_mode" ]]; then
  echo "1..$planned"
  t=0
  tap() { t=$(( t + 1 )); if [[ $1 == 0 ]]; then echo "ok $t - $2"; else echo "not ok $t - $2"; fi; }
  tap "$(( faults > 0 && ${#unhealthy} == 0 ? 0 : 1 ))" "the primary's postmaster killed, the standby took over (kill to new primary $failover_all ms)"
  tap "$(( never == 0 && faults > 0 ? 0 : 1 ))" "a booking answered 201 after the failover (kill to first 201: $recovery_all ms)"
  tap "$([[ $(v lost) == 0 ]]; echo $?)" "every booking answered 201 is on the new primary (lost $(v lost) of $(v s201))"
  tap "$([[ $(v double) == 0 ]]; echo $?)" "no overlapping confirmed appointments (double bookings $(v double))"
  tap "$([[ $(v lies) == 0 && $(v replay_mismatch) == 0 && $(v in_doubt_unresolved) == 0 ]]; echo $?)" \
    "nothing stored that was answered otherwise; in-doubt requests replayed agree ($(v in_doubt) in doubt, $(v in_doubt_stored) stored)"
  tap "$([[ $(v missing_events) == 0 && $(v duplicate_events) == 0 ]]; echo $?)" "every booking's event in the outbox once"
  tap "$([[ $standby_agrees == yes ]]; echo $?)" "the old primary rejoined as the synchronous standby and holds the same appointments"
  tap "$([[ $hooks_lost == 0 ]]; echo $?)" "every booking's webhook arrived ($delivered)"
  tap "$([[ $crashes == 0 && $(v s500) == 0 && $(v s503_no_retry_after) == 0 ]]; echo $?)" \
    "bookd ran throughout: no crash, no 500, every 503 with Retry-After (crashes $crashes, 500s $(v s500))"
  echo "# $(v requests) requests, $(v s201) answered 201, 503 $(v s503), no answer $(v no_answer); kill to new primary $failover_all ms, to the first 201 after it $recovery_all ms"
  for p in "${problems[@]}"; do echo "# failed: $p"; done
  (( ${#problems[@]} == 0 ))
  exit
fi
[[ -z "$test_mode" ]] || exit 1 # never past here in --test mode

# --- bench/RELIABILITY.md, its "## Failover" section ------------------------------
{
  echo "## Failover: two Patroni nodes, synchronous replication"
  echo
  echo "Measured by \`make soak\` (scripts/patroni_soak.sh) on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "$("$bin/postgres" --version | sed 's/postgres (PostgreSQL) /PostgreSQL /'), Patroni $(patroni --version 2>/dev/null | awk '{print $2}'), etcd $(etcd --version 2>/dev/null | awk 'NR == 1 {print $3}'),"
  echo "$("$bookd" version 2>/dev/null | head -n 1) built $(date -u -r "$bookd" '+%Y-%m-%d %H:%M UTC'), checkout at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src sql migrations 2>/dev/null || echo ' with changes to src, sql or migrations')."
  echo "Load average $load_avg at the start. Command: \`SOAK_SECONDS=$seconds scripts/patroni_soak.sh\` ($SECONDS s in all). Two Patroni"
  echo "nodes and one etcd on 127.0.0.1 (\`synchronous_mode: true\`, \`synchronous_commit: on\`, ttl $ttl s,"
  echo "loop_wait $loop_wait s, retry_timeout $retry_timeout s, \`primary_start_timeout: 0\`, pg_rewind: docs/operations.md),"
  echo "one bookd with \`DATABASE_URL=\"host=127.0.0.1,127.0.0.1 port=P1,P2 target_session_attrs=read-write"
  echo "...\"\` (pool of 8, BOOKD_POOL_WAIT_MS=500) that is never restarted, its delivery worker sending"
  echo "every booking's webhook to a local receiver; the same booking load as above for $load_s s in all:"
  echo "$(for m in "${modes[@]}"; do printf '%s%s s with `synchronous_mode_strict: %s`' "${sep:-}" "$seconds" "$([[ $m == strict ]] && echo true || echo false)"; sep=", then "; done). Whichever node leads"
  echo "is lost, in turn, as **pg_kill9** (its postmaster killed with SIGKILL; Patroni lives on and"
  echo "fails over rather than restart it) and **node_kill9** (its Patroni and its postmaster killed"
  echo "with SIGKILL together: the machine gone; the leader key expires after the ttl). Each fault"
  echo "waits for a leader with a synchronous standby; the lost node rejoins as the standby"
  echo "(pg_rewind; a node_kill9's Patroni is started again) before the next."
  echo
  echo "| load held (answers/s) | faults injected | bookings confirmed | lost | in doubt (stored) | double bookings | stored though answered otherwise | 500s / other / hung | 503 without Retry-After | standby holds the same | webhooks arrived |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  echo "| $(v rate) | $faults | $(v confirmed) | $(v lost) | $(v in_doubt) ($(v in_doubt_stored) stored) | $(v double) | $(v lies) | $(v s500) / $(v other) / $(v timeout) | $(v s503_no_retry_after) | $standby_agrees | $delivered |"
  echo
  echo "| fault kind | synchronous_mode_strict | faults | kill to new primary, max / median (ms) | kill to first booking answered 201, max / median (ms) | kill to a synchronous standby again, max / median (ms) | meanwhile: 503s / cut off / no answer in 10 s |"
  echo "|---|---|---|---|---|---|---|"
  for kind in pg_kill9 node_kill9 pg_kill9_strict node_kill9_strict; do
    count=$(awk -v k="$kind" '$1 == k' "$work/faults" | wc -l)
    (( count > 0 )) || continue
    meanwhile=$(awk -v k="$kind" '$1 == k { a += $2; b += $3; c += $4 } END { printf "%d / %d / %d", a, b, c }' "$work/outage")
    echo "| ${kind%_strict} | $([[ $kind == *_strict ]] && echo true || echo false) | $count | $(of_kind "$kind" "$work/failover") | $(of_kind "$kind" "$work/first201") | $(of_kind "$kind" "$work/rejoin") | $meanwhile |"
  done
  echo
  echo "- $(v requests) requests in $(v seconds) s ($(v rate201) booked/s): 201 $(v s201), 409 $(v s409)"
  echo "  (slot_busy $(v s409_busy)), 503 $(v s503), no answer $(v no_answer) (refused $(v refused), reset"
  echo "  $(v reset), timeout $(v timeout)); slowest answer $(v max_ms_answer) ms, slowest 503 $(v max_ms_503) ms."
  echo "- *Kill to new primary*: from the SIGKILL to the other node reported leader by Patroni and"
  echo "  taking writes. *Kill to first booking answered 201*: to the answer of the first booking"
  echo "  started after that which was answered 201 (bookd's pool reconnecting through the"
  echo "  multi-host DATABASE_URL; in strict mode, the new primary's commits waiting for a"
  echo "  synchronous standby). *Kill to a synchronous standby again*: the lost node rejoined and"
  echo "  in sync. *Lost*, *in doubt*, *double bookings*, *stored though answered otherwise*: as"
  echo "  above, checked on the last primary. *Standby holds the same*: at the end, once the standby"
  echo "  has replayed the primary's WAL, both hold the same confirmed appointments (count and ids)."
  echo "- *Meanwhile*, and *answers meanwhile* below: answers that arrived between the kill and"
  echo "  the first booking answered 201 (below: the new primary). 201s and 409s among them are"
  echo "  requests sent before the kill whose commit the standby had acknowledged as the primary"
  echo "  died (its backends outlive the postmaster for a moment); the checker finds them stored."
  echo "  *Cut off*: the connection closed without an answer (bookd withholds the answer of a"
  echo "  change whose outcome it cannot know). *No answer in 10 s* (*hung* above): with"
  echo "  \`synchronous_mode_strict: true\` and no standby in sync, a commit waits for one with no"
  echo "  time limit (\`statement_timeout\` does not cover a commit's wait); every such request was"
  echo "  in doubt, replayed with its key, and agreed with the database."
  grep -E '^# failover: fault [0-9]+ \(' "$work/check" | sed -e 's/^# failover: /- /' \
    -e 's/: down \([0-9]*\) ms;/: kill to new primary \1 ms;/' -e 's/answers while down/answers meanwhile/' \
    -e 's/after the return answered/started after that answered/'
  if (( ${#problems[@]} )); then
    echo
    echo "What breaks the promise:"
    echo
    for p in "${problems[@]}"; do echo "- $p"; done
  fi
} >"$work/section.md"
# The section replaces its earlier self (up to the next "## " heading) or
# is added at the end; the rest of the file stays as it is.
if [[ -f "$out" ]]; then
  awk -v sec="$work/section.md" '
    /^## Failover/ { while ((getline l < sec) > 0) print l; skip = 1; done = 1; next }
    skip && /^## / { skip = 0; print "" }
    !skip { print }
    END { if (!done) { print ""; while ((getline l < sec) > 0) print l } }' "$out" >"$work/reliability.md"
else
  { echo "# bookd reliability under faults"; echo; cat "$work/section.md"; } >"$work/reliability.md"
fi
cp "$work/reliability.md" "$out"
cat "$work/section.md"
if (( ${#problems[@]} )); then
  say "FAILED: ${problems[*]}"
  exit 1
fi
