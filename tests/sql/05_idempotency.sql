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

-- Same key, same request: replay --------------------------------------------------
INSERT INTO res VALUES ('k1', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1')));
SELECT is(pg_temp.r('k1') ->> 'status', 'booked', 'first request with a key: booked');
SELECT ok(NOT pg_temp.r('k1') ? 'replayed', 'first request: not marked replayed');
SELECT results_eq($$
    SELECT org_id, request_hash, result, created_at FROM idempotency_keys WHERE key = 'key-1'
    $$, $$
    SELECT '11111111-1111-4111-8111-111111111111'::uuid, sha256('request-1'),
           pg_temp.r('k1') - 'lockWaitUs', now()
    $$, 'the key is stored with the request hash and the result (without lockWaitUs)');
INSERT INTO snap VALUES ('after-k1', pg_temp.totals());

INSERT INTO res VALUES ('k1b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1')));
SELECT is(pg_temp.r('k1b') -> 'replayed', 'true'::jsonb, 'same key, same hash: "replayed": true');
SELECT is(pg_temp.r('k1b') ->> 'status', 'booked', 'the replay says booked');
SELECT is(pg_temp.aid('k1b'), pg_temp.aid('k1'), 'the replay names the same appointment');
SELECT is(pg_temp.r('k1b') - 'replayed' - 'lockWaitUs', pg_temp.r('k1') - 'lockWaitUs',
          'the replay is the stored result, field for field');
SELECT is(pg_temp.r('k1b') -> 'lockWaitUs', '0'::jsonb, 'the replay waited for no lock');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after-k1'),
          'the replay booked nothing: no appointment, audit, outbox or key row');
SELECT is((SELECT count(*)::int FROM appointments
            WHERE scheduled_at = '2030-04-01 10:00:00+00'),
          1, 'exactly one appointment at 10:00');

-- Same key, different request: BK004 -------------------------------------------------
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL,
                        '2030-04-01 12:00:00+00', 30, 'key-1', sha256('request-2'))
    $$, 'BK004', 'Idempotency-Key was already used with a different request',
    'same key, different hash: BK004');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after-k1'), 'BK004: nothing written');
SELECT is((SELECT request_hash FROM idempotency_keys WHERE key = 'key-1'), sha256('request-1'),
          'BK004: the stored hash is unchanged');
SELECT throws_ok(format($$
    SELECT pg_temp.resched(%L, '2030-04-01 12:00:00+00', p_key => 'key-1',
                           p_hash => sha256('reschedule-1'))
    $$, pg_temp.aid('k1')),
    'BK004', NULL, 'a booking''s key reused for a reschedule (other hash): BK004');

-- Keys are per organization ------------------------------------------------------------
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000003',
                       'cccccccc-0000-4000-8000-000000000004', NULL,
                       '2030-04-01 10:00:00+00', 30, 'key-1', sha256('other-org-request'),
                       p_org => '22222222-2222-4222-8222-222222222222') ->> 'status',
          'booked', 'the same key in another organization is a different key: booked');
SELECT is((SELECT count(*)::int FROM idempotency_keys WHERE key = 'key-1'), 2,
          'one key row per organization');

-- A conflict is stored and replayed too -------------------------------------------------
INSERT INTO res VALUES ('k2', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 10:15:00+00', 30, 'key-2', sha256('request-conflict')));
SELECT is(pg_temp.r('k2') ->> 'status', 'conflict', 'a keyed request that conflicts: conflict');
SELECT is((SELECT result FROM idempotency_keys WHERE key = 'key-2'),
          pg_temp.r('k2') - 'lockWaitUs', 'the conflict result is stored with the key');
-- Free the slot: a fresh attempt would now book, but the replay must not.
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('k1'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'the blocking appointment is cancelled');
INSERT INTO snap VALUES ('before-k2b', pg_temp.totals());
INSERT INTO res VALUES ('k2b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 10:15:00+00', 30, 'key-2', sha256('request-conflict')));
SELECT is(pg_temp.r('k2b') ->> 'status', 'conflict', 'the retry replays the conflict');
SELECT is(pg_temp.r('k2b') -> 'replayed', 'true'::jsonb, 'the replayed conflict is marked replayed');
SELECT is(pg_temp.r('k2b') -> 'conflictingAppointment', pg_temp.r('k2') -> 'conflictingAppointment',
          'the replayed conflict names the same appointment');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-k2b'),
          'the replayed conflict booked nothing');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-04-01 10:15:00+00', 30, 'key-3', sha256('request-conflict'))
          ->> 'status',
          'booked', 'the same request under a new key books (the slot really is free)');

-- An expired key (older than 24 h) is treated as new --------------------------------------
UPDATE idempotency_keys SET created_at = now() - interval '23 hours'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-2';
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-04-01 10:15:00+00', 30, 'key-2', sha256('request-conflict'))
          -> 'replayed',
          'true'::jsonb, 'a key 23 h old still replays');
UPDATE idempotency_keys SET created_at = now() - interval '25 hours'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-2';
INSERT INTO res VALUES ('k2c', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 11:00:00+00', 30, 'key-2', sha256('request-after-expiry')));
SELECT is(pg_temp.r('k2c') ->> 'status', 'booked',
          'a key 25 h old with a different hash: treated as new (no BK004), booked');
SELECT ok(NOT pg_temp.r('k2c') ? 'replayed', 'the expired key''s request is not a replay');
SELECT results_eq($$
    SELECT request_hash, result, created_at FROM idempotency_keys
     WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-2'
    $$, $$
    SELECT sha256('request-after-expiry'), pg_temp.r('k2c') - 'lockWaitUs', now()
    $$, 'the expired key now holds the new hash, result and time');
INSERT INTO res VALUES ('k2d', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 11:00:00+00', 30, 'key-2', sha256('request-after-expiry')));
SELECT is(pg_temp.aid('k2d'), pg_temp.aid('k2c'), 'and it replays the new result afterwards');
-- Same hash after expiry: a new booking, not a replay.
INSERT INTO res VALUES ('k4', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-02 10:00:00+00', 30, 'key-4', sha256('request-4')));
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('k4'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'fixture: the keyed booking is cancelled');
UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-4';
INSERT INTO res VALUES ('k4b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-02 10:00:00+00', 30, 'key-4', sha256('request-4')));
SELECT ok(pg_temp.r('k4b') ->> 'status' = 'booked' AND NOT pg_temp.r('k4b') ? 'replayed'
          AND pg_temp.aid('k4b') <> pg_temp.aid('k4'),
          'the same request after expiry books a new appointment');

-- Errors are not stored: the key stays free ------------------------------------------------
SELECT throws_ok($$
    SELECT pg_temp.book('eeeeeeee-0000-4000-8000-000000000000',
                        'cccccccc-0000-4000-8000-000000000001', NULL,
                        '2030-04-03 10:00:00+00', 30, 'key-err', sha256('bad'))
    $$, 'BK001', NULL, 'a keyed request with an unknown provider: BK001');
SELECT is_empty($$SELECT 1 FROM idempotency_keys WHERE key = 'key-err'$$,
                'the failed request left no key behind');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001', NULL,
                       '2030-04-03 10:00:00+00', 30, 'key-err', sha256('fixed')) ->> 'status',
          'booked', 'the key can be used again with a corrected request');
SELECT is_empty($$SELECT 1 FROM idempotency_keys WHERE result = '{}'$$,
                'no key row is left holding the placeholder result');

-- No key: nothing stored ---------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM idempotency_keys), 6,
          'only the keyed requests stored keys (key-1 x2 orgs, key-2, key-3, key-4, key-err)');

-- Reschedule with a key --------------------------------------------------------------------
INSERT INTO res VALUES ('m', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-04 10:00:00+00', 30));
INSERT INTO res VALUES ('m1', pg_temp.resched(pg_temp.aid('m'), '2030-04-04 12:00:00+00',
                                              p_key => 'key-r', p_hash => sha256('resched-1')));
SELECT is(pg_temp.r('m1') ->> 'status', 'rescheduled', 'keyed reschedule: rescheduled');
INSERT INTO snap VALUES ('after-m1', pg_temp.totals());
INSERT INTO res VALUES ('m2', pg_temp.resched(pg_temp.aid('m'), '2030-04-04 12:00:00+00',
                                              p_key => 'key-r', p_hash => sha256('resched-1')));
SELECT is(pg_temp.r('m2') - 'replayed' - 'lockWaitUs', pg_temp.r('m1') - 'lockWaitUs',
          'keyed reschedule retried: the stored result (not BK003 for the now rescheduled row)');
SELECT is(pg_temp.r('m2') -> 'replayed', 'true'::jsonb, 'keyed reschedule retried: replayed');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after-m1'),
          'keyed reschedule retried: nothing written');
SELECT throws_ok(format($$
    SELECT pg_temp.resched(%L, '2030-04-04 13:00:00+00', p_key => 'key-r',
                           p_hash => sha256('resched-2'))
    $$, pg_temp.aid('m1')),
    'BK004', NULL, 'keyed reschedule, same key, different request: BK004');

SELECT * FROM finish();
ROLLBACK;
