-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(60);

\ir fixtures.psql
-- Tables and extension ------------------------------------------------------
SELECT has_extension('btree_gist', 'btree_gist is installed (needed for the exclusion constraint)');
SELECT has_table('public', 'organizations', 'table organizations exists');
SELECT has_table('public', 'api_keys', 'table api_keys exists');
SELECT has_table('public', 'providers', 'table providers exists');
SELECT has_table('public', 'services', 'table services exists');
SELECT has_table('public', 'contacts', 'table contacts exists');
SELECT has_table('public', 'appointments', 'table appointments exists');
SELECT has_table('public', 'audit_logs', 'table audit_logs exists');
SELECT has_table('public', 'idempotency_keys', 'table idempotency_keys exists');
SELECT has_table('public', 'outbox_positions', 'table outbox_positions exists: the fan-out''s cursor (events are audit entries)');

SELECT is_empty($$
    SELECT c FROM unnest(ARRAY[
        'id', 'org_id', 'provider_id', 'contact_id', 'service_id', 'scheduled_at',
        'duration_minutes', 'ends_at', 'buffer_before_minutes', 'buffer_after_minutes',
        'buffered_start', 'buffered_end', 'status', 'notes', 'metadata', 'created_at',
        'cancelled_at', 'cancel_reason', 'rescheduled_to', 'rescheduled_from']) c
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = 'public.appointments'::regclass
                          AND attname = c AND NOT attisdropped)
    $$, 'appointments has every column of the data model');
SELECT col_type_is('public', 'appointments', 'scheduled_at', 'timestamp with time zone',
                   'appointments.scheduled_at is timestamptz');
SELECT col_is_pk('public', 'idempotency_keys', ARRAY['org_id', 'key_kind', 'key'],
                 'idempotency keys are per organization and kind of key (PRIMARY KEY (org_id, key_kind, key))');
SELECT col_type_is('public', 'audit_logs', 'id', 'uuid', 'audit entry ids are UUIDs');

-- Deleting a row (a hold released, expired or purged) looks up the rows
-- that point at it: both references are indexed, or each delete scans the
-- table twice.
SELECT ok(EXISTS (SELECT 1 FROM pg_index i
                   WHERE i.indrelid = 'public.appointments'::regclass
                     AND i.indkey[0] = (SELECT attnum FROM pg_attribute
                                         WHERE attrelid = 'public.appointments'::regclass
                                           AND attname = c)
                     AND i.indnatts = 1),
          'appointments.' || c || ' (a foreign key to appointments) is indexed')
  FROM unnest(ARRAY['rescheduled_to', 'rescheduled_from']) c;

-- The exclusion constraint --------------------------------------------------
SELECT is((SELECT contype FROM pg_constraint
            WHERE conname = 'appointments_no_overlap'
              AND conrelid = 'public.appointments'::regclass),
          'x'::"char", 'appointments_no_overlap is an exclusion constraint on appointments');
SELECT matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE conname = 'appointments_no_overlap'
                   AND conrelid = 'public.appointments'::regclass),
               '^EXCLUDE USING gist \(provider_id WITH =, tstzrange\(buffered_start, buffered_end, ''\[\)''::text\) WITH &&\) WHERE \(\(\(status\)::text = ANY \(ARRAY\[''confirmed''::text, ''held''::text\]\)\)\)$',
               'appointments_no_overlap: gist, same provider, [) buffered ranges, confirmed and held rows');
SELECT is((SELECT am.amname::text FROM pg_class c JOIN pg_am am ON am.oid = c.relam
            WHERE c.oid = 'public.appointments_no_overlap'::regclass),
          'gist', 'the constraint''s index is a GiST index');
SELECT ok((SELECT condeferrable AND condeferred FROM pg_constraint
            WHERE conrelid = 'public.appointments'::regclass AND contype = 'f'
              AND conkey = ARRAY[(SELECT attnum FROM pg_attribute
                                   WHERE attrelid = 'public.appointments'::regclass
                                     AND attname = 'rescheduled_to')]),
          'the rescheduled_to foreign key is DEFERRABLE INITIALLY DEFERRED');

-- The functions -------------------------------------------------------------
SELECT has_function('public', 'book_appointment_with_lock',
    ARRAY['uuid', 'uuid', 'uuid', 'uuid', 'timestamp with time zone', 'integer', 'text',
          'jsonb', 'bigint[]', 'timestamp with time zone', 'timestamp with time zone',
          'integer', 'text', 'text', 'bytea', 'boolean', 'uuid', 'bytea'],
    'book_appointment_with_lock(...) exists with the expected signature');
SELECT has_function('public', 'hold_slot',
    ARRAY['uuid', 'uuid', 'uuid', 'timestamp with time zone', 'integer', 'integer', 'bigint[]',
          'timestamp with time zone', 'timestamp with time zone', 'integer', 'text', 'boolean',
          'integer', 'text', 'bytea'],
    'hold_slot(...) exists with the expected signature');
SELECT has_function('public', 'release_hold', ARRAY['uuid', 'uuid', 'integer', 'text'],
    'release_hold(...) exists with the expected signature');
SELECT has_function('public', 'check_availability',
    ARRAY['uuid', 'uuid', 'timestamp with time zone', 'integer', 'integer', 'integer', 'uuid'],
    'check_availability(...) exists with the expected signature');
SELECT has_function('public', 'cancel_appointment',
    ARRAY['uuid', 'uuid', 'text', 'integer', 'text'],
    'cancel_appointment(...) exists with the expected signature');
SELECT has_function('public', 'reschedule_appointment_with_lock',
    ARRAY['uuid', 'uuid', 'uuid', 'timestamp with time zone', 'integer', 'bigint[]',
          'timestamp with time zone', 'timestamp with time zone', 'integer', 'text', 'text',
          'bytea', 'boolean', 'bytea'],
    'reschedule_appointment_with_lock(...) exists with the expected signature');

SELECT ok(coalesce((SELECT bool_and(prosecdef) FROM pg_proc
                     WHERE pronamespace = 'public'::regnamespace AND proname = f), false),
          f || ' is SECURITY DEFINER')
  FROM unnest(ARRAY['book_appointment_with_lock', 'check_availability', 'cancel_appointment',
                    'reschedule_appointment_with_lock', 'hold_slot', 'release_hold']) f;
-- 'search_path=pg_catalog, public' (a trailing ', pg_temp' is accepted too).
SELECT ok(coalesce((SELECT bool_and(EXISTS (
                        SELECT 1 FROM unnest(proconfig) c
                         WHERE c IN ('search_path=pg_catalog, public',
                                     'search_path=pg_catalog, public, pg_temp')))
                      FROM pg_proc
                     WHERE pronamespace = 'public'::regnamespace AND proname = f), false),
          f || ' pins search_path = pg_catalog, public')
  FROM unnest(ARRAY['book_appointment_with_lock', 'check_availability', 'cancel_appointment',
                    'reschedule_appointment_with_lock', 'hold_slot', 'release_hold']) f;
-- A plan chosen once per connection, not one that flips with ANALYZE's
-- sample between planning every call and a generic plan (sql/20_availability.sql).
SELECT ok(coalesce((SELECT bool_and('plan_cache_mode=force_generic_plan' = ANY (proconfig))
                      FROM pg_proc
                     WHERE pronamespace = 'public'::regnamespace AND proname = f), false),
          f || ' pins plan_cache_mode = force_generic_plan')
  FROM unnest(ARRAY['book_appointment_with_lock', 'check_availability', 'cancel_appointment',
                    'reschedule_appointment_with_lock', 'free_slots', 'hold_slot',
                    'release_hold']) f;
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                        WHERE c LIKE 'search_path=pg_catalog, %')
    $$, 'every SECURITY DEFINER function in public pins a search_path starting with pg_catalog');
-- The bk_* helpers run inside the entry points (no SET clause, so the SQL
-- ones inline); none is SECURITY DEFINER, and none that writes is callable
-- by PUBLIC.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'bk\_%'
       AND (p.prosecdef OR (p.provolatile = 'v'
            AND has_function_privilege('public', p.oid, 'EXECUTE')))
    $$, 'no bk_* helper is SECURITY DEFINER, and PUBLIC cannot call those that write');
SELECT cmp_ok((SELECT count(*)::int FROM pg_proc
                WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'bk\_%'),
              '>=', 9, 'the bk_* helpers exist');

-- bk_iso: toISOString() form, whatever the session time zone ----------------
SELECT is(bk_iso('2030-01-01 14:00:00+00'), '2030-01-01T14:00:00.000Z',
          'bk_iso prints UTC with milliseconds and Z');
SELECT is(bk_iso('2030-06-01 16:30:05.123456+02'), '2030-06-01T14:30:05.123Z',
          'bk_iso converts an offset to UTC and keeps three fractional digits');
SELECT is(bk_iso(NULL), NULL, 'bk_iso(NULL) is NULL (JSON null in the API)');

-- Table-level rules ---------------------------------------------------------
SELECT throws_ok($$
    INSERT INTO providers (org_id, name, working_hours, is_default)
    VALUES ('11111111-1111-4111-8111-111111111111', 'Second default', '{}', true)
    $$, '23505', NULL, 'an organization has at most one default provider');
SELECT lives_ok($$
    INSERT INTO providers (org_id, name, working_hours, is_default)
    VALUES ('11111111-1111-4111-8111-111111111111', 'Not default', '{}', false)
    $$, 'any number of non-default providers');
SELECT throws_ok($$
    INSERT INTO organizations (name, timezone, vapi_secret_hash)
    VALUES ('Dup secret', 'UTC', sha256('pgtap-vapi-secret-1'))
    $$, '23505', NULL, 'vapi_secret_hash is unique');
SELECT throws_ok($$
    INSERT INTO services (org_id, name, duration_minutes, buffer_after_minutes)
    VALUES ('11111111-1111-4111-8111-111111111111', 'Bad buffer', 30, 241)
    $$, '23514', NULL, 'service buffers are limited to 0..240');
SELECT throws_ok($$
    INSERT INTO audit_logs (org_id, actor, action, entity_type, entity_id)
    VALUES ('11111111-1111-4111-8111-111111111111', 'system', 'x', 'bogus',
            gen_random_uuid())
    $$, '23514', NULL, 'audit_logs.entity_type is restricted');
SELECT throws_ok($$
    INSERT INTO idempotency_keys (org_id, key_kind, key, request_hash, result)
    VALUES ('11111111-1111-4111-8111-111111111111', 'admin', '', '\x00', '{}')
    $$, '23514', NULL, 'an empty idempotency key is rejected');

-- docs/design.md, "The SQL functions and migrations": a LANGUAGE sql function
-- that cannot be inlined is planned at every call; such functions are PL/pgSQL.
SELECT is_empty($$
    SELECT p.proname FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace
       AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql')
       AND (p.prosecdef OR p.proconfig IS NOT NULL)
    $$, 'no LANGUAGE sql function is SECURITY DEFINER or has SET clauses (neither is ever inlined)');

-- Migration 0022: the index the claim reads holds no leased delivery, so
-- no first attempt (leased by its fan-out) ever enters it.
SELECT matches(pg_get_indexdef('deliveries_due'::regclass),
               'WHERE \(\(status = ANY .*\) AND \(locked_until IS NULL\)\)$',
               'deliveries_due: waiting and unleased deliveries only');
SELECT matches(pg_get_indexdef('deliveries_leased'::regclass),
               '\(locked_until\) WHERE \(locked_until IS NOT NULL\)$',
               'deliveries_leased: the leases, for their release');

SELECT * FROM finish();
ROLLBACK;
