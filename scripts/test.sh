#!/usr/bin/env bash
# Runs every test layer against a throwaway PostgreSQL cluster and prints,
# as its last line, "N passed, M failed". Each layer speaks TAP; a layer
# that dies before finishing its plan counts the missing tests as failed.
#   scripts/test.sh [BUILD_DIR]
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source scripts/pglib.sh

mkdir -p .bookd
pgdir=$(mktemp -d "$root/.bookd/test.XXXXXX")
results=$(mktemp -d)
cleanup() { pg_stop "$pgdir"; rm -rf "$pgdir" "$results"; }
trap cleanup EXIT

if ! pg_start "$pgdir" throwaway; then
  echo "could not start the throwaway PostgreSQL"
  echo "0 passed, 1 failed"
  exit 1
fi
export DATABASE_URL
DATABASE_URL=$(pg_conninfo "$pgdir")
export BOOKD_TEST_PG_DIR=$pgdir
# One key for every bookd this run starts: a server refuses to start when
# the database holds secrets it cannot open, so all of them share it.
export BOOKD_SECRET_KEY
BOOKD_SECRET_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')

passed=0
failed=0

# run_layer NAME TAP_FILE COMMAND...: runs COMMAND (whose TAP goes to
# TAP_FILE), then counts its results.
run_layer() {
  local name=$1 tap=$2; shift 2
  local rc ok notok plan missing=0
  echo "== $name"
  "$@"; rc=$?
  ok=$(grep -cE '^ok\b' "$tap" || true)
  notok=$(grep -cE '^not ok\b' "$tap" || true)
  plan=$(grep -oE '^1\.\.[0-9]+' "$tap" | tail -n 1 | cut -d. -f3)
  # node's runner nests tests; its closing "# pass N" lines count them all.
  if grep -qE '^# pass [0-9]+$' "$tap"; then
    ok=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" | tail -n 1)
    notok=$(( $(sed -n 's/^# \(fail\|cancelled\|skipped\|todo\) \([0-9]*\)$/\2/p' "$tap" |
               paste -sd+ | sed 's/^$/0/') ))
    plan=$(( ok + notok ))
  fi
  if [[ -n "$plan" ]] && (( ok + notok < plan )); then
    missing=$(( plan - ok - notok ))
  elif [[ -z "$plan" || $rc -ne 0 ]] && (( notok == 0 )); then
    missing=1 # died without a plan, or failed without saying which test
  fi
  # Each failure with the lines that explain it (TAP diagnostics follow it).
  grep -E -A 12 '^\s*not ok\b' "$tap" | sed 's/^/   /'
  (( missing > 0 )) && echo "   $name: $missing test(s) did not run (exit code $rc)"
  echo "   $name: $ok passed, $(( notok + missing )) failed"
  passed=$(( passed + ok ))
  failed=$(( failed + notok + missing ))
}

unit_tap=$results/unit.tap
run_layer unit "$unit_tap" "$build/tests/unit_tests" --tap="$unit_tap" -q

migrate_tap=$results/migrate.tap
run_layer migrate "$migrate_tap" bash -c "tests/db/migrate_test.sh '$build/bookd' > '$migrate_tap'"

if ! "$build/bookd" migrate >"$results/migrate.log" 2>&1; then
  cat "$results/migrate.log"
fi

for f in tests/sql/*.sql; do
  [[ -e "$f" ]] || continue
  tap=$results/$(basename "$f" .sql).tap
  run_layer "sql/$(basename "$f")" "$tap" \
    bash -c "psql -X -q -t -A -v ON_ERROR_STOP=1 '$DATABASE_URL' -f '$f' > '$tap' 2>&1"
done

tools_tap=$results/tools.tap
(cd tests/tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
run_layer tools "$tools_tap" bash -c "tests/tools/check_test.sh '$build/bookd' > '$tools_tap'"

# Every SQL statement a constant, its values parameters (a check over src/).
sql_params_tap=$results/sql_params.tap
run_layer sql_params "$sql_params_tap" bash -c "tests/tools/sql_params_check.sh > '$sql_params_tap'"

http_tap=$results/http.tap
(cd tests/http && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
run_layer http "$http_tap" bash -c "cd tests/http && BOOKD_BIN='$root/$build/bookd' \
  node --test --test-concurrency=1 --test-reporter=tap *.test.mjs > '$http_tap' 2>&1"

# The pages in Debian's Chromium (tests/browser/README.md).
browser_tap=$results/browser.tap
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
run_layer browser "$browser_tap" bash -c "cd tests/browser && BOOKD_BIN='$root/$build/bookd' \
  node --test --test-concurrency=1 --test-reporter=tap *.test.mjs > '$browser_tap' 2>&1"

shutdown_tap=$results/shutdown.tap
run_layer shutdown "$shutdown_tap" bash -c "tests/db/shutdown_test.sh '$build/bookd' > '$shutdown_tap'"

busy_tap=$results/busy.tap
run_layer busy "$busy_tap" bash -c "tests/db/busy_test.sh '$build/bookd' > '$busy_tap'"

cache_tap=$results/service_cache.tap
run_layer service_cache "$cache_tap" \
  bash -c "tests/db/service_cache_test.sh '$build/bookd' > '$cache_tap'"

outage_tap=$results/outage.tap
run_layer outage "$outage_tap" bash -c "tests/db/outage_test.sh '$build/bookd' > '$outage_tap'"

outbox_faults_tap=$results/outbox_faults.tap
# Its counts (events, delivered, duplicates, lost) are printed, as the race
# layer's are.
run_layer outbox_faults "$outbox_faults_tap" bash -c \
  "tests/db/outbox_faults_test.sh '$build/bookd' > '$outbox_faults_tap'; rc=\$?; grep '^#' '$outbox_faults_tap'; exit \$rc"

# PostgreSQL restarted (fast, immediate), backends ended, a held pool; bookd
# killed with SIGKILL and stopped with SIGTERM: under a booking load, each
# answer held against the database (counts as "# " lines).
for fault in db_faults process_faults; do
  tap=$results/$fault.tap
  run_layer "$fault" "$tap" bash -c \
    "tests/db/${fault}_test.sh '$build/bookd' > '$tap'; rc=\$?; grep '^#' '$tap'; exit \$rc"
done

secrets_tap=$results/secrets.tap
run_layer secrets "$secrets_tap" bash -c "tests/db/secrets_test.sh '$build/bookd' > '$secrets_tap'"

# Every libFuzzer harness of fuzz/ for a few seconds (make fuzz: longer).
fuzz_tap=$results/fuzz.tap
run_layer fuzz "$fuzz_tap" bash -c "scripts/fuzz.sh 5 > '$fuzz_tap' 2>'$results/fuzz.log'; rc=\$?; grep -E '^(not )?ok' '$fuzz_tap'; exit \$rc"

race_tap=$results/race.tap
run_layer race "$race_tap" bash -c \
  "'$build/tests/race_tests' > '$race_tap'; rc=\$?; grep '^#' '$race_tap'; exit \$rc"

echo "$passed passed, $failed failed"
(( failed == 0 ))
