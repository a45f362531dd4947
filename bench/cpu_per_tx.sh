#!/usr/bin/env bash
# The yardstick of bench/HISTORY.md from step 9 on: the whole machine's busy
# CPU time per transaction while pgbench runs a script (user + system + irq
# from /proc/stat; steal, which is other tenants, left out). Steadier than
# transactions per second on a shared machine, and it counts what the
# clients, PostgreSQL and the kernel spend together.
#   bench/cpu_per_tx.sh SCRIPT.sql [CLIENTS=16] [SECONDS=5] [VAR=VALUE ...]
# DATABASE_URL must hold the benchmark's tables: run `make bench` against it
# once (it leaves them there). Extra VAR=VALUE pairs go to pgbench as -D
# (orgs=100 is set; pg_slots.sql needs day=YYYY-MM-DD).
set -euo pipefail
script=$1 clients=${2:-16} seconds=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
defs=(-D orgs=100)
for d in "$@"; do defs+=(-D "$d"); done
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
before=$(busy)
out=$(pgbench -n -M prepared -c "$clients" -j $(( clients < 2 ? 1 : 2 )) -T "$seconds" \
  "${defs[@]}" -f "$script" "$DATABASE_URL" 2>&1) || { echo "$out" >&2; exit 1; }
after=$(busy)
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out")
done_tx=$(sed -n 's/.*actually processed: \([0-9]*\).*/\1/p' <<<"$out")
awk -v s="$(basename "$script")" -v tps="$tps" -v n="$done_tx" -v ticks=$(( after - before )) \
  -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "%s: %.0f tps, %.3f ms of machine CPU a transaction\n", s, tps, ticks / hz * 1000 / n }'
