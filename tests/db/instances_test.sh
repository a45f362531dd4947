#!/usr/bin/env bash
# Several bookd processes on one database (DESIGN.md, "Scaling past one
# machine"): the race scenarios of tests/http/races.test.mjs (overlapping
# ranges with different starts, one slot stormed, holds against bookings),
# each request sent to the next of three `bookd serve` processes, so the two
# sides of every race reach different processes and meet only in
# PostgreSQL; then held against the database in SQL (tests/db/races_lib.sh).
# Prints TAP.
#   tests/db/instances_test.sh BOOKD_BINARY     (DATABASE_URL set, migrated)
set -uo pipefail
bookd=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/../.." || exit 1
work=$(mktemp -d)
source tests/db/lib.sh
source tests/db/races_lib.sh
trap 'rm -rf "$work"' EXIT

echo "1..7"
races_over "$DATABASE_URL" 3 '{}' 4
