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
# Every bookd a test starts connects as bookd_app (made by pg_start), which
# may only execute the API functions; tests check tables as the owner.
export BOOKD_TEST_APP_USER=bookd_app
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

# suite BUILD LABEL SCOPE: every layer against BUILD's binaries, each named
# LABEL+its name; SCOPE "c" keeps only the layers that run bookd's C code
# (not the SQL files, the static check, the pages' browser run, the
# install, or the fuzzers, which have sanitizers of their own).
suite() {
  local build=$1 label=$2 scope=$3 out=$results/${2:-plain}
  local f tap fault layer
  mkdir -p "$out"
  c_only() { [[ $scope == c ]]; }
  unit_tap=$out/unit.tap
  run_layer "${label}unit" "$unit_tap" "$build/tests/unit_tests" --tap="$unit_tap" -q

  migrate_tap=$out/migrate.tap
  run_layer "${label}migrate" "$migrate_tap" bash -c "tests/db/migrate_test.sh '$build/bookd' > '$migrate_tap'"

  if ! "$build/bookd" migrate >"$out/migrate.log" 2>&1; then
    cat "$out/migrate.log"
  fi

  horizon_tap=$out/fanout_horizon.tap
  c_only || run_layer "${label}fanout_horizon" "$horizon_tap" \
    bash -c "tests/db/fanout_horizon_test.sh '$build/bookd' > '$horizon_tap'"

  for f in tests/sql/*.sql; do
    [[ -e "$f" ]] && ! c_only || continue
    tap=$out/$(basename "$f" .sql).tap
    run_layer "${label}sql/$(basename "$f")" "$tap" \
      bash -c "psql -X -q -t -A -v ON_ERROR_STOP=1 '$DATABASE_URL' -f '$f' > '$tap' 2>&1"
  done

  tools_tap=$out/tools.tap
  [[ -n $label ]] || (cd tests/tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  run_layer "${label}tools" "$tools_tap" bash -c "tests/tools/check_test.sh '$build/bookd' > '$tools_tap'"

  # Every SQL statement a constant, its values parameters (a check over src/).
  sql_params_tap=$out/sql_params.tap
  c_only || run_layer "${label}sql_params" "$sql_params_tap" bash -c "tests/tools/sql_params_check.sh > '$sql_params_tap'"

  # What operators get: make install into a scratch DESTDIR, the installed
  # binary (version, help, migrate from another directory, sd_notify), the
  # systemd unit (systemd-analyze), the man page against the settings.
  install_tap=$out/install.tap
  c_only || run_layer "${label}install" "$install_tap" bash -c "tests/tools/install_test.sh '$build' > '$install_tap'"

  http_tap=$out/http.tap
  [[ -n $label ]] || (cd tests/http && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  run_layer "${label}http" "$http_tap" bash -c "cd tests/http && BOOKD_BIN='$root/$build/bookd' \
    node --test --test-concurrency=1 --test-reporter=tap *.test.mjs > '$http_tap' 2>&1"

  # The pages in Debian's Chromium (tests/browser/README.md).
  browser_tap=$out/browser.tap
  c_only || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  c_only || run_layer "${label}browser" "$browser_tap" bash -c "cd tests/browser && BOOKD_BIN='$root/$build/bookd' \
    node --test --test-concurrency=1 --test-reporter=tap *.test.mjs > '$browser_tap' 2>&1"

  shutdown_tap=$out/shutdown.tap
  run_layer "${label}shutdown" "$shutdown_tap" bash -c "tests/db/shutdown_test.sh '$build/bookd' > '$shutdown_tap'"

  busy_tap=$out/busy.tap
  run_layer "${label}busy" "$busy_tap" bash -c "tests/db/busy_test.sh '$build/bookd' > '$busy_tap'"

  cache_tap=$out/service_cache.tap
  run_layer "${label}service_cache" "$cache_tap" \
    bash -c "tests/db/service_cache_test.sh '$build/bookd' > '$cache_tap'"

  outage_tap=$out/outage.tap
  run_layer "${label}outage" "$outage_tap" bash -c "tests/db/outage_test.sh '$build/bookd' > '$outage_tap'"

  outbox_faults_tap=$out/outbox_faults.tap
  # Its counts (events, delivered, duplicates, lost) are printed, as the race
  # layer's are.
  run_layer "${label}outbox_faults" "$outbox_faults_tap" bash -c \
    "tests/db/outbox_faults_test.sh '$build/bookd' > '$outbox_faults_tap'; rc=\$?; grep '^#' '$outbox_faults_tap'; exit \$rc"

  # PostgreSQL restarted (fast, immediate), backends ended, a held pool; bookd
  # killed with SIGKILL and stopped with SIGTERM: under a booking load, each
  # answer held against the database (counts as "# " lines).
  for fault in db_faults process_faults; do
    tap=$out/$fault.tap
    run_layer "${label}$fault" "$tap" bash -c \
      "tests/db/${fault}_test.sh '$build/bookd' > '$tap'; rc=\$?; grep '^#' '$tap'; exit \$rc"
  done

  secrets_tap=$out/secrets.tap
  run_layer "${label}secrets" "$secrets_tap" bash -c "tests/db/secrets_test.sh '$build/bookd' > '$secrets_tap'"

  # The primary of a two-node Patroni cluster killed under a booking load:
  # nothing answered 201 lost, no overlap, the old primary back in sync
  # (scripts/patroni_soak.sh --test, about 45 s, most of it Patroni's, so on
  # the plain build only; make soak runs the long one).
  failover_tap=$out/failover.tap
  c_only || run_layer "${label}failover" "$failover_tap" bash -c \
    "scripts/patroni_soak.sh --test '$build/bookd' > '$failover_tap' 2>'$out/failover.log'; rc=\$?; grep '^#' '$failover_tap'; exit \$rc"

  # The HTTP races split across three bookd processes on one database; then
  # through PgBouncer in transaction mode with BOOKD_DB_STATEMENTS=unnamed (and
  # the prepared mode's clear failure there). Each answer held against the
  # database in SQL.
  for layer in instances pgbouncer; do
    tap=$out/$layer.tap
    run_layer "${label}$layer" "$tap" bash -c \
      "tests/db/${layer}_test.sh '$build/bookd' > '$tap'; rc=\$?; grep '^#' '$tap'; exit \$rc"
  done

  # Every libFuzzer harness of fuzz/ for a few seconds (make fuzz: longer).
  fuzz_tap=$out/fuzz.tap
  c_only || run_layer "${label}fuzz" "$fuzz_tap" bash -c "scripts/fuzz.sh 5 > '$fuzz_tap' 2>'$out/fuzz.log'; rc=\$?; grep -E '^(not )?ok' '$fuzz_tap'; exit \$rc"

  race_tap=$out/race.tap
  run_layer "${label}race" "$race_tap" bash -c \
    "'$build/tests/race_tests' > '$race_tap'; rc=\$?; grep '^#' '$race_tap'; exit \$rc"
}

suite "$build" "" all
# `make test` runs the layers a second time on the ASan+UBSan build (make
# sanitize runs every layer on it alone), in a database of their own.
if [[ -n "${SANITIZE_BUILD:-}" ]]; then
  echo "== the same layers on the ASan+UBSan build ($SANITIZE_BUILD)"
  psql -X -q "$DATABASE_URL" -c "CREATE DATABASE bookd_sanitize" >/dev/null
  DATABASE_URL="${DATABASE_URL/dbname=bookd /dbname=bookd_sanitize }" \
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    suite "$SANITIZE_BUILD" sanitize/ c
fi

echo "$passed passed, $failed failed"
(( failed == 0 ))
