#!/usr/bin/env bash
# bookd's booking function next to the original design's, through pgbench, on
# one server: the yardstick of issue 19 (bench/HISTORY.md, from step 34).
#
#   DATABASE_URL=<bookd database> PEER_URL=<database with
#   /work/shared/peer-seed/schema.sql> bench/fn_vs_peer.sh [SCRIPT.sql | NAME=URL ...]
#
# Each round runs, at every client count, bench/pg_book.sql (bookd's
# function, distinct random slots, as `make bench` calls it), then the peer's
# pgb_function.sql (distinct slots, a fresh base time a run), then every extra
# SCRIPT given (a variant measured against the same database; it gets the
# same -D orgs=) and bench/pg_book.sql against every other bookd database
# NAME=URL given (another version's schema and functions, say), interleaved
# so that all meet the same noise. Prints each run's tps, the medians, and
# every side ÷ the peer, round by round and of the medians, then a SUMMARY
# line a side and client count for scripts. The database must hold
# bench/setup.sql's tables with bench_orgs filled (BENCH_ORGS rows, default
# 100).
# ROUNDS (default 5), BENCH_SECONDS (default 5), CLIENTS (default "16 64").
# FRESH=1 first empties every database's appointments, audit and outbox tables
# (TRUNCATE: only for databases made for this): the peer's overlap check scans
# every earlier row of the organization, so its speed depends on how many it
# already holds, and runs compare only from the same start.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${DATABASE_URL:?the bookd database}" "${PEER_URL:?the peer database}"
rounds=${ROUNDS:-5} seconds=${BENCH_SECONDS:-5} orgs=${BENCH_ORGS:-100}
clients_list=(${CLIENTS:-16 64})
peer_script=${PEER_SCRIPT:-/work/shared/peer-seed/pgb_function.sql}
sides=(book peer)
declare -A script url
script[book]=$root/bench/pg_book.sql url[book]=$DATABASE_URL
script[peer]=$peer_script url[peer]=$PEER_URL
for s in "$@"; do
  if [[ $s == *=* ]]; then
    name=${s%%=*}
    sides+=("$name") script[$name]=$root/bench/pg_book.sql url[$name]=${s#*=}
    continue
  fi
  name=$(basename "$s" .sql)
  sides+=("$name") script[$name]=$s url[$name]=$DATABASE_URL
done
if [[ ${FRESH:-0} == 1 ]]; then
  psql -X -q "$PEER_URL" -c "TRUNCATE appointments, audit_logs"
  for u in $(printf '%s\n' "${!url[@]}" | grep -v '^peer$'); do
    # (outbox_events is a table before migration 0019, a view after it.)
    psql -X -q "${url[$u]}" -c "SET client_min_messages = warning" \
      -c "TRUNCATE appointments, audit_logs, idempotency_keys CASCADE" \
      -c "DO \$\$ BEGIN IF to_regclass('outbox_events') IN (SELECT oid FROM pg_class WHERE relkind = 'r') THEN TRUNCATE outbox_events CASCADE; END IF; END \$\$" \
      -c "VACUUM ANALYZE appointments, audit_logs"
  done
  psql -X -q "$PEER_URL" -c "VACUUM ANALYZE appointments, audit_logs"
fi
# Past every slot the peer's database already holds.
base=$(psql -X -q -t -A "$PEER_URL" -c "SELECT extract(epoch FROM greatest(timestamptz
  '2100-01-01', max(scheduled_at) + interval '1 day'))::bigint FROM appointments")
declare -A tps cpu
summary=()
# The cluster's CPU (the postmaster, its live children, and the children it
# has reaped: pgbench's backends exit at the end of each run): steadier than
# tps on a machine other tenants share, and on a CPU-bound machine the ratio
# of two sides' CPU a transaction is what their tps ratio comes down to.
pm=$(head -n 1 "$(psql -X -q -t -A "$DATABASE_URL" -c 'SHOW data_directory')/postmaster.pid")
hz=$(getconf CLK_TCK)
cluster_ticks() {
  local t
  t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
  for c in $(cat "/proc/$pm/task/$pm/children"); do
    t=$(( t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0) ))
  done
  echo "$t"
}
run=0
pg_tps() { # SIDE CLIENTS RUN
  local side=$1 c=$2 defs=(-D orgs="$orgs" -D n=0 -D nc="$2")
  if [[ $side == peer ]]; then
    # A fresh stretch of hours a run: every booking is a distinct slot.
    defs=(-D n=0 -D nc="$c" -D base=$((base + $3 * 86400 * 400)))
  else
    defs+=(-D base="$(psql -X -q -t -A "${url[$side]}" -c 'SELECT bench_next_base()')")
  fi
  pgbench -n -M prepared -c "$c" -j 2 -T "$seconds" "${defs[@]}" -f "${script[$side]}" \
    "${url[$side]}" 2>&1 | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' | cut -d. -f1
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for r in $(seq "$rounds"); do
  for c in "${clients_list[@]}"; do
    for side in "${sides[@]}"; do
      run=$((run + 1))
      c0=$(cluster_ticks)
      t=$(pg_tps "$side" "$c" "$run")
      sleep 0.3 # the backends reaped
      tps[$side,$c]="${tps[$side,$c]:-} ${t:-0}"
      cpu[$side,$c]="${cpu[$side,$c]:-} $(awk -v d=$(( $(cluster_ticks) - c0 )) -v n="${t:-0}" \
        -v s="$seconds" -v hz="$hz" 'BEGIN { printf "%.3f", (n > 0 ? d / hz * 1000 / (n * s) : 0) }')"
    done
    line="round $r, $c clients:"
    for side in "${sides[@]}"; do
      line+=" $side $(awk '{print $NF}' <<<"${tps[$side,$c]}") tps $(awk '{print $NF}' <<<"${cpu[$side,$c]}") ms"
    done
    echo "$line" >&2
  done
done
for c in "${clients_list[@]}"; do
  echo "$c clients (${rounds} rounds of ${seconds} s, interleaved):"
  read -r -a p <<<"${tps[peer,$c]}"
  read -r -a pc <<<"${cpu[peer,$c]}"
  for side in "${sides[@]}"; do
    read -r -a v <<<"${tps[$side,$c]}"
    read -r -a vc <<<"${cpu[$side,$c]}"
    per=$(for i in "${!v[@]}"; do awk -v a="${v[$i]}" -v b="${p[$i]}" 'BEGIN { printf "%.2f ", (b > 0 ? a / b : 0) }'; done)
    mv=$(median "${v[@]}") mvc=$(median "${vc[@]}")
    ratio=$(awk -v a="$mv" -v b="$(median "${p[@]}")" 'BEGIN { printf "%.2f", a / b }')
    printf '  %-14s tps %-32s median %5s  ÷ peer: by round %s of medians %s\n' "$side" \
      "${tps[$side,$c]# }" "$mv" "$per" "$ratio"
    printf '  %-14s cluster CPU ms a tx %-24s median %5s  peer ÷ it (as a speed ratio) %s\n' "" \
      "${cpu[$side,$c]# }" "$mvc" \
      "$(awk -v a="$mvc" -v b="$(median "${pc[@]}")" 'BEGIN { printf "%.2f", (a > 0 ? b / a : 0) }')"
    # One line a side for scripts (bench/peer.sh): SIDE CLIENTS median-tps
    # ratio-of-medians cpu-median rounds' ratios (a,b,c).
    summary+=("SUMMARY $side $c $mv $ratio $mvc $(tr -s ' ' ',' <<<"${per% }")")
  done
done
printf '%s\n' "${summary[@]}"
