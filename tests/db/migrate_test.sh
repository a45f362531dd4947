#!/usr/bin/env bash
# The migration runner on a database of its own: applies everything once,
# is a no-op the second time, and rolls a failing migration back whole,
# naming the file. Prints TAP.
#   tests/db/migrate_test.sh BOOKD_BINARY     (DATABASE_URL set)
set -uo pipefail
bookd=$1
db="migrate_test_$$"
url="$DATABASE_URL dbname=$db"
work=$(mktemp -d)
trap 'psql -X -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; rm -rf "$work"' EXIT

n=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { psql -X -q -t -A "$url" -c "$1" 2>/dev/null; }

echo "1..9"
psql -X -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
files=$(ls migrations/[0-9][0-9][0-9][0-9]_*.sql | wc -l)

"$bookd" migrate --database-url "$url" >"$work/first.log" 2>&1
ok $? "first run succeeds"
[[ $(q "SELECT count(*) FROM schema_migrations") == "$files" ]]
ok $? "every migration file is recorded once ($files)"

"$bookd" migrate --database-url "$url" >"$work/second.log" 2>&1
ok $? "second run succeeds"
grep -q '"0 of '"$files"' migrations applied now' "$work/second.log"
ok $? "second run applies nothing"
[[ $(q "SELECT count(*) FROM schema_migrations") == "$files" ]]
ok $? "second run records nothing new"

cp migrations/*.sql "$work/"
cat >"$work/9999_broken.sql" <<'SQL'
CREATE TABLE half_done (id int);
SELECT 1 / 0;
SQL
"$bookd" migrate --database-url "$url" --migrations-dir "$work" >"$work/broken.log" 2>&1
[[ $? -ne 0 ]]
ok $? "a failing migration makes migrate exit non-zero"
grep -q '9999_broken.sql' "$work/broken.log"
ok $? "the failure names the file"
[[ $(q "SELECT to_regclass('public.half_done') IS NULL") == "t" ]]
ok $? "the failed migration left nothing behind"
[[ $(q "SELECT count(*) FROM schema_migrations WHERE version = '9999_broken.sql'") == "0" ]]
ok $? "the failed migration is not recorded"
