-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(31);

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

INSERT INTO res VALUES ('a', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-05-01 10:00:00+00', 60));
SELECT is(pg_temp.r('a') ->> 'status', 'booked', 'fixture: 10:00-11:00 booked');

-- Free and taken ------------------------------------------------------------------
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 12:00:00+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'a free range: exactly {"available": true}');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 10:30:00+00', 30, 0, 0, NULL),
          jsonb_build_object('available', false, 'conflictingAppointment',
                             jsonb_build_object('id', pg_temp.aid('a'),
                                                'scheduledAt', '2030-05-01T10:00:00.000Z',
                                                'durationMinutes', 60)),
          'an overlapping range: available false with conflictingAppointment');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 09:00:00+00', 180, NULL, NULL, NULL) -> 'available',
          'false'::jsonb, 'an enclosing range (NULL buffers): not available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 11:00:00+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'touching after (11:00): available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 09:30:00+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'touching before (09:30-10:00): available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000002',
                             '2030-05-01 10:00:00+00', 60, 0, 0, NULL),
          '{"available": true}'::jsonb, 'another provider at the same time: available');

-- p_exclude_id --------------------------------------------------------------------
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 10:30:00+00', 30, 0, 0, pg_temp.aid('a')),
          '{"available": true}'::jsonb, 'p_exclude_id ignores that appointment');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 10:30:00+00', 30, 0, 0,
                             'eeeeeeee-0000-4000-8000-000000000000') -> 'available',
          'false'::jsonb, 'p_exclude_id of another appointment does not hide this one');

-- Buffers passed in -------------------------------------------------------------------
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 11:00:00+00', 30, 15, 0, NULL) -> 'available',
          'false'::jsonb, 'buffer before 15 at 11:00 reaches back into 10:45: not available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 11:15:00+00', 30, 15, 0, NULL),
          '{"available": true}'::jsonb, 'buffer before 15 at 11:15 touches 11:00: available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 09:00:00+00', 30, 0, 30, NULL),
          '{"available": true}'::jsonb, 'buffer after 30 at 09:00 ends at 10:00: available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 09:00:00+00', 30, 0, 31, NULL) -> 'available',
          'false'::jsonb, 'buffer after 31 at 09:00 reaches 10:01: not available');

-- Buffers stored on the existing appointment ---------------------------------------------
INSERT INTO res VALUES ('b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000001', '2030-05-01 14:00:00+00', NULL));
INSERT INTO res VALUES ('bb', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000002', '2030-05-01 16:00:00+00', NULL));
SELECT is((check_availability('11111111-1111-4111-8111-111111111111',
                              'aaaaaaaa-0000-4000-8000-000000000001',
                              '2030-05-01 14:40:00+00', 10, 0, 0, NULL)
           -> 'conflictingAppointment' ->> 'id')::uuid,
          pg_temp.aid('b'), 'the stored buffer after (14:30-14:45) blocks 14:40');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 14:45:00+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, '14:45, where the stored buffer ends: available');
SELECT is((check_availability('11111111-1111-4111-8111-111111111111',
                              'aaaaaaaa-0000-4000-8000-000000000001',
                              '2030-05-01 15:30:00+00', 20, 0, 0, NULL)
           -> 'conflictingAppointment' ->> 'id')::uuid,
          pg_temp.aid('bb'), 'the stored buffer before (15:45-16:00) blocks 15:30/20');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 15:30:00+00', 15, 0, 0, NULL),
          '{"available": true}'::jsonb, '15:30/15, ending where the stored buffer starts: available');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 14:00:00+00', 30, 0, 15, pg_temp.aid('b')),
          '{"available": true}'::jsonb, 'p_exclude_id also ignores a buffered appointment');

-- The first conflict in time is reported ------------------------------------------------
SELECT is((check_availability('11111111-1111-4111-8111-111111111111',
                              'aaaaaaaa-0000-4000-8000-000000000001',
                              '2030-05-01 08:00:00+00', 600, 0, 0, NULL)
           -> 'conflictingAppointment' ->> 'id')::uuid,
          pg_temp.aid('a'), 'a range over several appointments reports the earliest');

-- Cancelled and rescheduled appointments do not block --------------------------------------
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('a'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'fixture: 10:00 cancelled');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 10:30:00+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'a cancelled appointment does not block');
SELECT is(pg_temp.resched(pg_temp.aid('b'), '2030-05-02 14:00:00+00') ->> 'status',
          'rescheduled', 'fixture: 14:00 rescheduled to the next day');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-01 14:00:00+00', 45, 0, 0, NULL),
          '{"available": true}'::jsonb, 'a rescheduled (old) appointment does not block');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-05-02 14:00:00+00', 45, 0, 0, NULL) -> 'available',
          'false'::jsonb, 'its new appointment does');

-- Organizations ---------------------------------------------------------------------------
SELECT throws_ok($$
    SELECT check_availability('11111111-1111-4111-8111-111111111111',
                              'eeeeeeee-0000-4000-8000-000000000000',
                              '2030-05-01 10:00:00+00', 30, 0, 0, NULL)
    $$, 'BK001', 'providerId does not exist', 'unknown provider: BK001');
SELECT is(pg_temp.err($$
    SELECT check_availability('11111111-1111-4111-8111-111111111111',
                              'aaaaaaaa-0000-4000-8000-000000000003',
                              '2030-05-01 10:00:00+00', 30, 0, 0, NULL)
    $$), 'BK001 providerId', 'another organization''s provider: BK001, COLUMN providerId');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000003',
                       'cccccccc-0000-4000-8000-000000000004', NULL,
                       '2030-05-03 10:00:00+00', 60,
                       p_org => '22222222-2222-4222-8222-222222222222') ->> 'status',
          'booked', 'fixture: org2 booking');
SELECT is(check_availability('22222222-2222-4222-8222-222222222222',
                             'aaaaaaaa-0000-4000-8000-000000000003',
                             '2030-05-03 10:30:00+00', 30, 0, 0, NULL) -> 'available',
          'false'::jsonb, 'org2 sees its own appointment');

-- Advisory: no writes, no locks --------------------------------------------------------------
INSERT INTO snap VALUES ('before-readonly',
    pg_temp.totals() || ' advisory=' ||
    (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()));
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-06-01 10:00:00+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'a check on a fresh day: available');
SELECT is(pg_temp.totals() || ' advisory=' ||
          (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
          (SELECT v FROM snap WHERE k = 'before-readonly'),
          'check_availability writes nothing and takes no advisory lock');
SELECT is((SELECT provolatile FROM pg_proc WHERE oid = 'public.check_availability'::regproc),
          's'::"char", 'check_availability is STABLE');

SELECT * FROM finish();
ROLLBACK;
