#!/usr/bin/env bash
# The migration runner on a database of its own: applies everything once,
# is a no-op the second time, re-applies a function file whose text changed,
# and rolls a failing run back whole (pending migrations and function files
# together), naming the file. Prints TAP.
#   tests/db/migrate_test.sh BOOKD_BINARY     (DATABASE_URL set)
set -uo pipefail
bookd=$1
db="migrate_test_$$"
url="$DATABASE_URL dbname=$db"
old_db="migrate_old_$$"
old_url="$DATABASE_URL dbname=$old_db"
events_db="migrate_events_$$"
events_url="$DATABASE_URL dbname=$events_db"
work=$(mktemp -d)
trap 'psql -X -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS $old_db" -c "DROP DATABASE IF EXISTS $events_db" >/dev/null 2>&1; rm -rf "$work"' EXIT

n=0
ok() { n=$((n + 1)); if [[ $1 == 0 ]]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
q() { psql -X -q -t -A "$url" -c "$1" 2>/dev/null; }

echo "1..21"
psql -X -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
files=$(ls migrations/[0-9][0-9][0-9][0-9]_*.sql | wc -l)
sqlfiles=$(ls sql/[0-9][0-9]_*.sql | wc -l)

"$bookd" migrate --database-url "$url" >"$work/first.log" 2>&1
ok $? "first run succeeds"
[[ $(q "SELECT count(*) FROM schema_migrations") == "$files" ]]
ok $? "every migration file is recorded once ($files)"

"$bookd" migrate --database-url "$url" >"$work/second.log" 2>&1
ok $? "second run succeeds"
grep -q '"0 of '"$files"' migrations applied now.* 0 of '"$sqlfiles"' function files' "$work/second.log"
ok $? "second run applies nothing"
[[ $(q "SELECT count(*) FROM schema_migrations") == "$files" ]]
ok $? "second run records nothing new"

[[ $(q "SELECT count(*) FROM schema_functions") == "$sqlfiles" ]]
ok $? "every function file is recorded once ($sqlfiles)"

mkdir -p "$work/m" "$work/s"
cp migrations/*.sql "$work/m/"
cp sql/*.sql "$work/s/"
first_sql=$(ls "$work/s" | head -n 1)
printf '\nCREATE OR REPLACE FUNCTION bk_migrate_probe() RETURNS int LANGUAGE sql AS $$ SELECT 7 $$;\n' \
  >>"$work/s/$first_sql"
"$bookd" migrate --database-url "$url" --migrations-dir "$work/m" --sql-dir "$work/s" \
  >"$work/changed.log" 2>&1
ok $? "a run after a function file changed succeeds"
[[ $(grep -c '"migrate.functions_applied"' "$work/changed.log") == 2 ]] &&
  grep -q "\"msg\":\"$first_sql\"" "$work/changed.log" &&
  grep -q '"msg":"99_privileges.sql"' "$work/changed.log"
ok $? "only the changed function file is applied again, and the privileges after it"
[[ $(q "SELECT bk_migrate_probe()") == "7" ]]
ok $? "the changed file's new text is what the database runs"

cat >"$work/m/9999_broken.sql" <<'SQL'
CREATE TABLE half_done (id int);
SELECT 1 / 0;
SQL
"$bookd" migrate --database-url "$url" --migrations-dir "$work/m" --sql-dir "$work/s" \
  >"$work/broken.log" 2>&1
[[ $? -ne 0 ]]
ok $? "a failing migration makes migrate exit non-zero"
grep -q '9999_broken.sql' "$work/broken.log"
ok $? "the failure names the file"
[[ $(q "SELECT to_regclass('public.half_done') IS NULL") == "t" ]]
ok $? "the failed migration left nothing behind"
[[ $(q "SELECT count(*) FROM schema_migrations WHERE version = '9999_broken.sql'") == "0" ]]
ok $? "the failed migration is not recorded"

# A good migration and a broken function file: all or nothing.
cat >"$work/m/9999_broken.sql" <<'SQL'
CREATE TABLE upgrade_half (id int);
SQL
printf '\nCREATE OR REPLACE FUNCTION bk_migrate_probe() RETURNS int LANGUAGE sql AS $$ SELECT no_such_column FROM appointments $$;\n' \
  >>"$work/s/$first_sql"
"$bookd" migrate --database-url "$url" --migrations-dir "$work/m" --sql-dir "$work/s" \
  >"$work/broken2.log" 2>&1
[[ $? -ne 0 ]] && grep -q "$first_sql" "$work/broken2.log"
ok $? "a broken function file fails the run and is named"
[[ $(q "SELECT to_regclass('public.upgrade_half') IS NULL") == "t" &&
   $(q "SELECT count(*) FROM schema_migrations WHERE version = '9999_broken.sql'") == "0" ]]
ok $? "the migration pending beside it is rolled back with it"
[[ $(q "SELECT bk_migrate_probe()") == "7" ]]
ok $? "the functions stay as they were"

# An upgrade: a database made by an earlier release (its migrations and
# function files, taken from git) migrates to this one. A function whose
# row type changed must be dropped by a migration first, which a fresh
# database never shows. feec89e is the last release before the
# integrations (issue 15).
old_release=feec89e
mkdir -p "$work/old"
if git archive "$old_release" migrations sql 2>"$work/old.log" | tar -x -C "$work/old" &&
   psql -X -q "$DATABASE_URL" -c "CREATE DATABASE $old_db" >/dev/null &&
   "$bookd" migrate --database-url "$old_url" --migrations-dir "$work/old/migrations" \
     --sql-dir "$work/old/sql" >>"$work/old.log" 2>&1; then
  "$bookd" migrate --database-url "$old_url" >"$work/upgrade.log" 2>&1
  ok $? "a database of release $old_release upgrades to this one"
else
  cat "$work/old.log" >&2
  ok 1 "a database of release $old_release upgrades to this one (it could not be made: needs the git history)"
fi

# Events with data: a database of the last release before migration 0019
# (events in outbox_events, some fanned out with their deliveries, one
# waiting) upgrades to events that are audit entries, each event once,
# each payload as it was, each delivery kept, and the waiting one fanned
# out after the upgrade (the others not again).
events_release=ac7c87e
eq() { psql -X -q -t -A "$events_url" -c "$1" 2>/dev/null; }
mkdir -p "$work/ev"
if git archive "$events_release" migrations sql 2>"$work/ev.log" | tar -x -C "$work/ev" &&
   psql -X -q "$DATABASE_URL" -c "CREATE DATABASE $events_db" >/dev/null &&
   "$bookd" migrate --database-url "$events_url" --migrations-dir "$work/ev/migrations" \
     --sql-dir "$work/ev/sql" >>"$work/ev.log" 2>&1 &&
   psql -X -q -v ON_ERROR_STOP=1 "$events_url" -f tests/db/upgrade_events.psql >>"$work/ev.log" 2>&1; then
  "$bookd" migrate --database-url "$events_url" >"$work/ev_upgrade.log" 2>&1
  ok $? "a database of release $events_release with events upgrades to this one"
else
  cat "$work/ev.log" >&2
  ok 1 "a database of release $events_release with events upgrades to this one (it could not be made)"
fi
[[ $(eq "SELECT (SELECT count(*) FROM upgrade_expect) || '/' ||
               (SELECT count(*) FROM audit_logs WHERE event_type IS NOT NULL) || '/' ||
               (SELECT count(*) FROM upgrade_expect x JOIN outbox_events e USING (entity_id, event_type)
                 WHERE e.payload = x.payload)") == 5/5/5 ]]
ok $? "each of the 5 events is one audit entry now, its payload as it was"
[[ $(eq "SELECT (SELECT sum(deliveries) FROM upgrade_expect) || '/' ||
               (SELECT count(*) FROM deliveries d JOIN audit_logs l ON l.id = d.event_id)") == 4/4 ]]
ok $? "the 4 deliveries are kept, each pointing at its event's audit entry"
[[ $(eq "SELECT outbox_fan_out(1000, 0)")/$(eq "SELECT outbox_fan_out(1000, 0)")/$(eq "SELECT count(*) FROM deliveries") == 1/0/5 ]]
ok $? "the event that waited is fanned out after the upgrade, the others not again"
