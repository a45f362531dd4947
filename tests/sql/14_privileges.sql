-- Least privilege (sql/99_privileges.sql; docs/design.md, "Least
-- privilege"): bookd_api, the role bookd serves as, owns nothing, may
-- touch no table or sequence, create nothing (not even a temporary table),
-- and execute only the API functions, each SECURITY DEFINER with a fixed
-- search_path; nothing of ours is executable by PUBLIC.
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(17);

\ir fixtures.psql

-- Runs `sql` as bookd_api; 'ok', or the SQLSTATE it failed with.
CREATE FUNCTION pg_temp.as_api(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL ROLE bookd_api;
    EXECUTE sql;
    RESET ROLE;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;

-- Our functions: in public, not an extension's.
CREATE VIEW pg_temp.ours AS
SELECT p.oid, p.oid::regprocedure AS sig, p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

SELECT is((SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bookd_api'), false,
          'bookd_api exists and cannot log in (login roles are its members)');

SELECT is((SELECT count(*) FROM pg_class WHERE relowner = 'bookd_api'::regrole)
        + (SELECT count(*) FROM pg_proc WHERE proowner = 'bookd_api'::regrole)
        + (SELECT count(*) FROM pg_namespace WHERE nspowner = 'bookd_api'::regrole)
        + (SELECT count(*) FROM pg_type WHERE typowner = 'bookd_api'::regrole), 0::bigint,
          'bookd_api owns no relation, function, schema or type');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                   AND d.objid = c.oid AND d.deptype = 'e')
       AND (has_table_privilege('bookd_api', c.oid,
                                'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
            OR (c.relkind = 'S' AND has_sequence_privilege('bookd_api', c.oid, 'USAGE, UPDATE')))
$$, 'bookd_api has no privilege on any table, view or sequence');

SELECT is_empty($$
    SELECT c.relname FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                                   AND d.objid = c.oid AND d.deptype = 'e')
       AND has_table_privilege('public', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
$$, 'nor has PUBLIC');

SELECT ok(NOT has_schema_privilege('bookd_api', 'public', 'CREATE')
          AND NOT has_database_privilege('bookd_api', current_database(), 'TEMPORARY')
          AND NOT has_schema_privilege('public', 'public', 'CREATE')
          AND NOT has_database_privilege('public', current_database(), 'TEMPORARY'),
          'neither bookd_api nor PUBLIC may create in public or make temporary tables');

SELECT is_empty($$
    SELECT sig FROM pg_temp.ours WHERE has_function_privilege('public', oid, 'EXECUTE')
$$, 'PUBLIC may execute none of our functions');

SELECT is_empty($$
    SELECT sig FROM pg_temp.ours
     WHERE has_function_privilege('bookd_api', oid, 'EXECUTE')
       AND NOT (prosecdef AND proconfig @> ARRAY['search_path=pg_catalog, public, pg_temp'])
       AND proname <> 'bk_iso'
$$, 'every function bookd_api may execute (but the formatter bk_iso) is SECURITY DEFINER '
    'with the fixed search_path');

SELECT is_empty($$
    SELECT sig FROM pg_temp.ours
     WHERE has_function_privilege('bookd_api', oid, 'EXECUTE') AND proname LIKE 'bk\_%'
       AND proname <> 'bk_iso'
$$, 'no bk_* helper is executable by bookd_api');

SELECT is_empty($$
    SELECT sig FROM pg_temp.ours
     WHERE prosecdef AND NOT proconfig @> ARRAY['search_path=pg_catalog, public, pg_temp']
$$, 'no SECURITY DEFINER function without the fixed search_path');

-- What bookd_api can and cannot do, done.
SELECT is(pg_temp.as_api('SELECT 1 FROM appointments LIMIT 1'), '42501',
          'as bookd_api: reading a table directly → permission denied');
SELECT is(pg_temp.as_api($$UPDATE contacts SET name = 'x'$$), '42501',
          'as bookd_api: writing a table directly → permission denied');
SELECT is(pg_temp.as_api('CREATE TEMPORARY TABLE appointments (id uuid)'), '42501',
          'as bookd_api: a temporary table (that could shadow one of ours) → permission denied');
SELECT is(pg_temp.as_api('CREATE TABLE public.mine (id int)'), '42501',
          'as bookd_api: a table in public → permission denied');
SELECT is(pg_temp.as_api('SELECT bk_lock_budget(1)'), '42501',
          'as bookd_api: an internal helper → permission denied');
SELECT is(pg_temp.as_api(format('SELECT org_get(%L)', '11111111-1111-4111-8111-111111111111')), 'ok',
          'as bookd_api: an API function that reads works');
SELECT is(pg_temp.as_api(format(
    $$SELECT create_contact(%L, 'Priv Ileged', '+15550100', NULL, 'api')$$, '11111111-1111-4111-8111-111111111111')), 'ok',
    'as bookd_api: an API function that writes works');
SELECT is((SELECT count(*) FROM contacts WHERE org_id = '11111111-1111-4111-8111-111111111111' AND name = 'Priv Ileged'),
          1::bigint, '... and its row is there, written by the owner on bookd_api''s behalf');

SELECT * FROM finish();
ROLLBACK;
