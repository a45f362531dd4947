-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(30);

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

-- A direct insert with consistent derived columns, bypassing the functions.
CREATE FUNCTION pg_temp.ins(p_provider uuid, p_at timestamptz, p_duration int,
                            p_before int DEFAULT 0, p_after int DEFAULT 0,
                            p_status text DEFAULT 'confirmed', p_rescheduled_to uuid DEFAULT NULL)
RETURNS uuid LANGUAGE sql AS $$
INSERT INTO public.appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                                 ends_at, buffer_before_minutes, buffer_after_minutes,
                                 buffered_start, buffered_end, status, cancelled_at,
                                 rescheduled_to)
SELECT '11111111-1111-4111-8111-111111111111', p_provider, 'cccccccc-0000-4000-8000-000000000001',
       p_at, p_duration, p_at + make_interval(mins => p_duration), p_before, p_after,
       p_at - make_interval(mins => p_before), p_at + make_interval(mins => p_duration + p_after),
       p_status, CASE WHEN p_status = 'cancelled' THEN now() END, p_rescheduled_to
RETURNING id
$$;
CREATE TEMP TABLE ids (k text PRIMARY KEY, id uuid NOT NULL);

-- The exclusion constraint backstop -----------------------------------------------------
INSERT INTO ids SELECT 'base', pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001',
                                           '2030-07-01 10:00:00+00', 60);
SELECT isnt((SELECT id FROM ids WHERE k = 'base'), NULL, 'a direct insert 10:00-11:00 works');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 10:30:00+00', 30)
    $$, '23P01', NULL, 'a direct overlapping insert on the same provider: 23P01');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 10:00:00+00', 60)
    $$, '23P01', NULL, 'a direct insert of the identical range: 23P01');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 11:00:00+00', 30, 5, 0)
    $$, '23P01', NULL, 'a direct insert whose buffer before overlaps: 23P01');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 09:00:00+00', 30, 0, 31)
    $$, '23P01', NULL, 'a direct insert whose buffer after overlaps: 23P01');
SELECT lives_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 11:00:00+00', 30)
    $$, 'a direct insert touching the end (11:00) is allowed');
SELECT lives_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 09:00:00+00', 30, 0, 30)
    $$, 'a direct insert whose buffer ends at 10:00 is allowed');
SELECT lives_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-01 10:00:00+00', 60)
    $$, 'the same range on another provider is allowed');
INSERT INTO ids SELECT 'cancelled', pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001',
                                                '2030-07-01 10:00:00+00', 60, p_status => 'cancelled');
SELECT isnt((SELECT id FROM ids WHERE k = 'cancelled'), NULL,
            'an overlapping direct insert with status cancelled is allowed');
SELECT lives_ok(format($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000001', '2030-07-01 10:15:00+00', 30,
                       p_status => 'rescheduled', p_rescheduled_to => %L)
    $$, (SELECT id FROM ids WHERE k = 'base')),
    'an overlapping direct insert with status rescheduled is allowed');
SELECT throws_ok(format($$
    UPDATE appointments SET status = 'confirmed', cancelled_at = NULL WHERE id = %L
    $$, (SELECT id FROM ids WHERE k = 'cancelled')),
    '23P01', NULL, 're-confirming a cancelled overlapping row: 23P01');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-07-01 10:45:00+00', 15) -> 'conflictingAppointment' ->> 'id',
          (SELECT id::text FROM ids WHERE k = 'base'),
          'book_appointment_with_lock sees a row written around it and reports the conflict');

-- The derived-column CHECKs ------------------------------------------------------------------
SELECT throws_ok($$
    INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                              ends_at, buffered_start, buffered_end)
    VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000002',
            'cccccccc-0000-4000-8000-000000000001', '2030-07-02 10:00+00', 60,
            '2030-07-02 10:30+00', '2030-07-02 10:00+00', '2030-07-02 10:30+00')
    $$, '23514', NULL, 'ends_at inconsistent with scheduled_at + duration: 23514');
SELECT throws_ok($$
    INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                              ends_at, buffer_before_minutes, buffered_start, buffered_end)
    VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000002',
            'cccccccc-0000-4000-8000-000000000001', '2030-07-02 10:00+00', 60,
            '2030-07-02 11:00+00', 15, '2030-07-02 10:00+00', '2030-07-02 11:00+00')
    $$, '23514', NULL, 'buffered_start ignoring the buffer before: 23514');
SELECT throws_ok($$
    INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                              ends_at, buffer_after_minutes, buffered_start, buffered_end)
    VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000002',
            'cccccccc-0000-4000-8000-000000000001', '2030-07-02 10:00+00', 60,
            '2030-07-02 11:00+00', 15, '2030-07-02 10:00+00', '2030-07-02 11:00+00')
    $$, '23514', NULL, 'buffered_end ignoring the buffer after: 23514');
SELECT throws_ok($$
    UPDATE appointments SET ends_at = ends_at + interval '1 minute'
     WHERE org_id = '11111111-1111-4111-8111-111111111111'
    $$, '23514', NULL, 'an UPDATE that makes ends_at inconsistent: 23514');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-02 10:00+00', 0)
    $$, '23514', NULL, 'duration 0: 23514');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-02 10:00+00', 30, 241, 0)
    $$, '23514', NULL, 'buffer over 240: 23514');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-02 10:00+00', 30,
                       p_status => 'deleted')
    $$, '23514', NULL, 'an unknown status: 23514');
SELECT throws_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-02 10:00+00', 30,
                       p_status => 'rescheduled')
    $$, '23514', NULL, 'status rescheduled without rescheduled_to: 23514');
SELECT throws_ok(format($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-02 10:00+00', 30,
                       p_rescheduled_to => %L)
    $$, (SELECT id FROM ids WHERE k = 'base')),
    '23514', NULL, 'status confirmed with rescheduled_to: 23514');
SELECT throws_ok(format($$
    UPDATE appointments SET status = 'cancelled' WHERE id = %L
    $$, (SELECT id FROM ids WHERE k = 'base')),
    '23514', NULL, 'status cancelled without cancelled_at: 23514');
SELECT throws_ok(format($$
    UPDATE appointments SET cancelled_at = now() WHERE id = %L
    $$, (SELECT id FROM ids WHERE k = 'base')),
    '23514', NULL, 'cancelled_at on a confirmed appointment: 23514');
SELECT throws_ok(format($$
    UPDATE appointments SET metadata = '[]' WHERE id = %L
    $$, (SELECT id FROM ids WHERE k = 'base')),
    '23514', NULL, 'metadata that is not an object: 23514');
SELECT throws_ok(format($$
    UPDATE appointments SET notes = repeat('x', 2001) WHERE id = %L
    $$, (SELECT id FROM ids WHERE k = 'base')),
    '23514', NULL, 'notes over 2000 characters: 23514');

-- Foreign keys keep rows inside their organization ------------------------------------------
SELECT throws_ok($$
    INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                              ends_at, buffered_start, buffered_end)
    VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000003',
            'cccccccc-0000-4000-8000-000000000001', '2030-07-03 10:00+00', 60,
            '2030-07-03 11:00+00', '2030-07-03 10:00+00', '2030-07-03 11:00+00')
    $$, '23503', NULL, 'an appointment with another organization''s provider: 23503');
SELECT throws_ok($$
    INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                              ends_at, buffered_start, buffered_end)
    VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
            'cccccccc-0000-4000-8000-000000000004', '2030-07-03 10:00+00', 60,
            '2030-07-03 11:00+00', '2030-07-03 10:00+00', '2030-07-03 11:00+00')
    $$, '23503', NULL, 'an appointment with another organization''s contact: 23503');
SELECT throws_ok($$
    INSERT INTO appointments (org_id, provider_id, contact_id, service_id, scheduled_at,
                              duration_minutes, ends_at, buffered_start, buffered_end)
    VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
            'cccccccc-0000-4000-8000-000000000001', 'dddddddd-0000-4000-8000-000000000004',
            '2030-07-03 10:00+00', 60,
            '2030-07-03 11:00+00', '2030-07-03 10:00+00', '2030-07-03 11:00+00')
    $$, '23503', NULL, 'an appointment with another organization''s service: 23503');

-- rescheduled_to is deferred: a dangling one fails when checked --------------------------------
SELECT lives_ok($$
    SELECT pg_temp.ins('aaaaaaaa-0000-4000-8000-000000000002', '2030-07-04 10:00+00', 30,
                       p_status => 'rescheduled',
                       p_rescheduled_to => 'eeeeeeee-0000-4000-8000-000000000000')
    $$, 'a dangling rescheduled_to is accepted until the check (deferred)');
SELECT throws_ok('SET CONSTRAINTS ALL IMMEDIATE', '23503', NULL,
                 'a dangling rescheduled_to fails at the deferred check: 23503');

SELECT * FROM finish();
ROLLBACK;
