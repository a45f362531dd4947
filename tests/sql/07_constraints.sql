-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(35);

\ir fixtures.psql
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

-- The rules of the other rows a booking writes (migration 0025: domains,
-- compiled once per connection, instead of table CHECKs) --------------------------------------
SELECT throws_ok($$
    INSERT INTO audit_logs (org_id, actor, action, entity_type, entity_id)
    VALUES ('11111111-1111-4111-8111-111111111111', 'system', 'x.y', 'planet', gen_random_uuid())
    $$, '23514', NULL, 'an audit entry about an unknown kind of entity: 23514');
SELECT throws_ok($$
    INSERT INTO idempotency_keys (org_id, key, key_kind, request_hash, result)
    VALUES ('11111111-1111-4111-8111-111111111111', repeat('k', 256), 'admin', '\x00', '{}')
    $$, '23514', NULL, 'an idempotency key of 256 characters: 23514');
SELECT throws_ok($$
    INSERT INTO idempotency_keys (org_id, key, key_kind, request_hash, result)
    VALUES ('11111111-1111-4111-8111-111111111111', 'k', 'root', '\x00', '{}')
    $$, '23514', NULL, 'an idempotency key of an unknown kind of key: 23514');
SELECT throws_ok(format($$
    INSERT INTO manage_tokens (token_hash, org_id, appointment_id, valid_until)
    VALUES (substr(sha256('x'), 1, 31), '11111111-1111-4111-8111-111111111111', %L, now())
    $$, (SELECT id FROM ids WHERE k = 'base')),
    '23514', NULL, 'a manage token''s hash of 31 bytes: 23514');
SELECT is((SELECT count(*)::int FROM pg_constraint
            WHERE contype = 'c' AND conrelid IN ('audit_logs'::regclass,
                  'idempotency_keys'::regclass, 'manage_tokens'::regclass,
                  'vapi_tool_results'::regclass, 'vapi_call_holds'::regclass)),
          0, 'no table CHECK left to compile at every insert into these tables');

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
