-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(41);

-- Fixtures ------------------------------------------------------------------
-- org1 11111111-…  org2 22222222-…
-- providers  aaaaaaaa-…-001 (org1 default)  -002 (org1)  -003 (org2 default)
-- contacts   cccccccc-…-001 Alice (org1)  -002 Bob (org1)  -003 erased (org1)
--            -004 Carol (org2)
-- services   dddddddd-…-001 30 min, 15 min buffer after   (org1)
--            -002 30 min, 15 min buffer before  (org1)
--            -003 45 min, no buffers            (org1)
--            -004 30 min                        (org2)
-- unknown    eeeeeeee-0000-4000-8000-000000000000
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('11111111-1111-4111-8111-111111111111', 'Test Clinic', 'Europe/Berlin',
     sha256('pgtap-vapi-secret-1')),
    ('22222222-2222-4222-8222-222222222222', 'Other Clinic', 'UTC',
     sha256('pgtap-vapi-secret-2'));
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111',
     'Dr Default', '{"mon":[["09:00","17:00"]],"tue":[["09:00","17:00"]]}', true),
    ('aaaaaaaa-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111',
     'Dr Second', '{"wed":[["09:00","12:00"]]}', false),
    ('aaaaaaaa-0000-4000-8000-000000000003', '22222222-2222-4222-8222-222222222222',
     'Dr Elsewhere', '{}', true);
INSERT INTO contacts (id, org_id, name, phone, email, erased_at) VALUES
    ('cccccccc-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111',
     'Alice Pgtapson', '+15550001111', 'alice@example.test', NULL),
    ('cccccccc-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111',
     'Bob Pgtapson', '+15550002222', NULL, NULL),
    ('cccccccc-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111',
     NULL, NULL, NULL, now() - interval '1 day'),
    ('cccccccc-0000-4000-8000-000000000004', '22222222-2222-4222-8222-222222222222',
     'Carol Elsewhere', '+15550004444', NULL, NULL);
INSERT INTO services (id, org_id, name, duration_minutes, buffer_before_minutes,
                      buffer_after_minutes) VALUES
    ('dddddddd-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111',
     'Cleaning', 30, 0, 15),
    ('dddddddd-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111',
     'Preparation', 30, 15, 0),
    ('dddddddd-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111',
     'Consultation', 45, 0, 0),
    ('dddddddd-0000-4000-8000-000000000004', '22222222-2222-4222-8222-222222222222',
     'Elsewhere', 30, 0, 0);

-- Helpers (in pg_temp: they vanish with the session) ------------------------
-- 15-minute bucket bounds and stand-in lock keys (any ascending bigints do;
-- the C side computes the real ones).
CREATE FUNCTION pg_temp.floor15(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT to_timestamp(floor(extract(epoch FROM t) / 900) * 900) $$;
CREATE FUNCTION pg_temp.ceil15(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT to_timestamp(ceil(extract(epoch FROM t) / 900) * 900) $$;
CREATE FUNCTION pg_temp.keys(f timestamptz, t timestamptz) RETURNS bigint[]
LANGUAGE sql IMMUTABLE AS $$
SELECT array_agg((extract(epoch FROM g) / 900)::bigint ORDER BY g)
  FROM generate_series(f, t - interval '15 minutes', interval '15 minutes') g
$$;

-- Books through book_appointment_with_lock with correctly computed lock
-- bounds (the buffered range, widened to 15-minute buckets).
CREATE FUNCTION pg_temp.book(p_provider uuid, p_contact uuid, p_service uuid,
                             p_at timestamptz, p_duration int,
                             p_key text DEFAULT NULL, p_hash bytea DEFAULT NULL,
                             p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111',
                             p_notes text DEFAULT NULL, p_metadata jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    v_before int;
    v_after int;
    v_dur int;
    v_from timestamptz;
    v_to timestamptz;
BEGIN
    SELECT s.buffer_before_minutes, s.buffer_after_minutes, s.duration_minutes
      INTO v_before, v_after, v_dur FROM public.services s WHERE s.id = p_service;
    v_from := pg_temp.floor15(p_at - make_interval(mins => coalesce(v_before, 0)));
    v_to := pg_temp.ceil15(p_at + make_interval(mins => coalesce(p_duration, v_dur, 60)
                                                      + coalesce(v_after, 0)));
    RETURN public.book_appointment_with_lock(
        p_org, p_provider, p_contact, p_service, p_at, p_duration, p_notes, p_metadata,
        pg_temp.keys(v_from, v_to), v_from, v_to, 2000, 'admin_key:pgtap', p_key, p_hash);
END
$$;

-- Reschedules through reschedule_appointment_with_lock: keys for the union
-- of the old and the new buckets, bounds of the new buffered range.
CREATE FUNCTION pg_temp.resched(p_id uuid, p_at timestamptz, p_duration int DEFAULT NULL,
                                p_provider uuid DEFAULT NULL,
                                p_key text DEFAULT NULL, p_hash bytea DEFAULT NULL,
                                p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    o public.appointments;
    v_from timestamptz;
    v_to timestamptz;
    v_keys bigint[];
BEGIN
    SELECT * INTO o FROM public.appointments WHERE id = p_id;
    v_from := pg_temp.floor15(p_at - make_interval(mins => coalesce(o.buffer_before_minutes, 0)));
    v_to := pg_temp.ceil15(p_at + make_interval(mins => coalesce(p_duration, o.duration_minutes, 60)
                                                      + coalesce(o.buffer_after_minutes, 0)));
    v_keys := pg_temp.keys(v_from, v_to);
    IF o.id IS NOT NULL THEN
        v_keys := ARRAY(SELECT DISTINCT k
                          FROM unnest(v_keys || pg_temp.keys(pg_temp.floor15(o.buffered_start),
                                                             pg_temp.ceil15(o.buffered_end))) k
                         ORDER BY k);
    END IF;
    RETURN public.reschedule_appointment_with_lock(
        p_org, p_id, p_provider, p_at, p_duration, v_keys, v_from, v_to, 2000,
        'admin_key:pgtap', p_key, p_hash);
END
$$;

-- Named results of earlier calls.
CREATE TEMP TABLE res (k text PRIMARY KEY, v jsonb NOT NULL);
CREATE FUNCTION pg_temp.r(p_k text) RETURNS jsonb
LANGUAGE sql AS $$ SELECT v FROM res WHERE k = p_k $$;
CREATE FUNCTION pg_temp.aid(p_k text) RETURNS uuid
LANGUAGE sql AS $$ SELECT (v -> 'appointment' ->> 'id')::uuid FROM res WHERE k = p_k $$;

-- The SQLSTATE and COLUMN of the error a statement raises.
CREATE FUNCTION pg_temp.err(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_col text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_col = COLUMN_NAME;
    RETURN v_state || coalesce(' ' || nullif(v_col, ''), '');
END
$$;

-- Row counts of everything a booking function may write.
CREATE FUNCTION pg_temp.totals() RETURNS text LANGUAGE sql AS $$
SELECT format('appointments=%s audit=%s outbox=%s idempotency=%s',
              (SELECT count(*) FROM public.appointments),
              (SELECT count(*) FROM public.audit_logs),
              (SELECT count(*) FROM public.outbox_events),
              (SELECT count(*) FROM public.idempotency_keys))
$$;
CREATE TEMP TABLE snap (k text PRIMARY KEY, v text NOT NULL);

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
SELECT has_table('public', 'outbox_events', 'table outbox_events exists');

SELECT is_empty($$
    SELECT c FROM unnest(ARRAY[
        'id', 'org_id', 'provider_id', 'contact_id', 'service_id', 'scheduled_at',
        'duration_minutes', 'ends_at', 'buffer_before_minutes', 'buffer_after_minutes',
        'buffered_start', 'buffered_end', 'status', 'notes', 'metadata', 'created_at',
        'cancelled_at', 'cancel_reason', 'rescheduled_to', 'rescheduled_from', 'deleted_at']) c
     WHERE NOT EXISTS (SELECT 1 FROM pg_attribute
                        WHERE attrelid = 'public.appointments'::regclass
                          AND attname = c AND NOT attisdropped)
    $$, 'appointments has every column of the data model');
SELECT col_type_is('public', 'appointments', 'scheduled_at', 'timestamp with time zone',
                   'appointments.scheduled_at is timestamptz');
SELECT col_is_pk('public', 'idempotency_keys', ARRAY['org_id', 'key'],
                 'idempotency keys are per organization (PRIMARY KEY (org_id, key))');

-- The exclusion constraint --------------------------------------------------
SELECT is((SELECT contype FROM pg_constraint
            WHERE conname = 'appointments_no_overlap'
              AND conrelid = 'public.appointments'::regclass),
          'x'::"char", 'appointments_no_overlap is an exclusion constraint on appointments');
SELECT matches((SELECT pg_get_constraintdef(oid) FROM pg_constraint
                 WHERE conname = 'appointments_no_overlap'
                   AND conrelid = 'public.appointments'::regclass),
               '^EXCLUDE USING gist \(provider_id WITH =, tstzrange\(buffered_start, buffered_end, ''\[\)''::text\) WITH &&\) WHERE \(\(status = ''confirmed''::text\)\)$',
               'appointments_no_overlap: gist, same provider, [) buffered ranges, confirmed rows only');
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
          'integer', 'text', 'text', 'bytea', 'boolean'],
    'book_appointment_with_lock(...) exists with the expected signature');
SELECT has_function('public', 'check_availability',
    ARRAY['uuid', 'uuid', 'timestamp with time zone', 'integer', 'integer', 'integer', 'uuid'],
    'check_availability(...) exists with the expected signature');
SELECT has_function('public', 'cancel_appointment',
    ARRAY['uuid', 'uuid', 'text', 'integer', 'text'],
    'cancel_appointment(...) exists with the expected signature');
SELECT has_function('public', 'reschedule_appointment_with_lock',
    ARRAY['uuid', 'uuid', 'uuid', 'timestamp with time zone', 'integer', 'bigint[]',
          'timestamp with time zone', 'timestamp with time zone', 'integer', 'text', 'text',
          'bytea'],
    'reschedule_appointment_with_lock(...) exists with the expected signature');

SELECT ok(coalesce((SELECT bool_and(prosecdef) FROM pg_proc
                     WHERE pronamespace = 'public'::regnamespace AND proname = f), false),
          f || ' is SECURITY DEFINER')
  FROM unnest(ARRAY['book_appointment_with_lock', 'check_availability', 'cancel_appointment',
                    'reschedule_appointment_with_lock']) f;
-- 'search_path=pg_catalog, public' (a trailing ', pg_temp' is accepted too).
SELECT ok(coalesce((SELECT bool_and(EXISTS (
                        SELECT 1 FROM unnest(proconfig) c
                         WHERE c IN ('search_path=pg_catalog, public',
                                     'search_path=pg_catalog, public, pg_temp')))
                      FROM pg_proc
                     WHERE pronamespace = 'public'::regnamespace AND proname = f), false),
          f || ' pins search_path = pg_catalog, public')
  FROM unnest(ARRAY['book_appointment_with_lock', 'check_availability', 'cancel_appointment',
                    'reschedule_appointment_with_lock']) f;
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                        WHERE c LIKE 'search_path=pg_catalog, %')
    $$, 'every SECURITY DEFINER function in public pins a search_path starting with pg_catalog');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'bk\_%'
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                        WHERE c LIKE 'search_path=pg_catalog%')
    $$, 'every bk_* helper pins its search_path');
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
    VALUES ('11111111-1111-4111-8111-111111111111', 'system', 'x', 'organization',
            gen_random_uuid())
    $$, '23514', NULL, 'audit_logs.entity_type is restricted');
SELECT throws_ok($$
    INSERT INTO idempotency_keys (org_id, key, request_hash, result)
    VALUES ('11111111-1111-4111-8111-111111111111', '', '\x00', '{}')
    $$, '23514', NULL, 'an empty idempotency key is rejected');

SELECT * FROM finish();
ROLLBACK;
