-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(90);

\ir fixtures.psql
-- A successful booking ------------------------------------------------------
INSERT INTO res VALUES ('b1', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-01-01 14:00:00+00', 60,
    p_notes => 'Alice Pgtapson prefers mornings', p_metadata => '{"source": "pgtap"}'));

SELECT is(pg_temp.r('b1') ->> 'status', 'booked', 'book: status booked');
SELECT is(pg_temp.r('b1') -> 'appointment' ->> 'scheduledAt', '2030-01-01T14:00:00.000Z',
          'book: scheduledAt in toISOString() form (UTC, despite the session time zone)');
SELECT is((pg_temp.r('b1') -> 'appointment' ->> 'durationMinutes')::int, 60,
          'book: durationMinutes');
SELECT is(pg_temp.r('b1') -> 'appointment' ->> 'status', 'confirmed',
          'book: the appointment is confirmed');
SELECT is(pg_temp.r('b1') -> 'appointment' ->> 'providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
          'book: providerId');
SELECT is(pg_temp.r('b1') -> 'appointment' ->> 'contactId', 'cccccccc-0000-4000-8000-000000000001',
          'book: contactId');
SELECT is(pg_temp.r('b1') -> 'appointment' -> 'serviceId', 'null'::jsonb,
          'book: serviceId is JSON null without a service');
SELECT is(pg_temp.r('b1') -> 'appointment' ->> 'createdAt', bk_iso(now()),
          'book: createdAt is the transaction time in toISOString() form');
SELECT matches(pg_temp.r('b1') -> 'appointment' ->> 'createdAt',
               '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'book: createdAt format');
SELECT is(pg_temp.r('b1') -> 'appointment' -> 'cancelledAt', 'null'::jsonb,
          'book: cancelledAt is null');
SELECT is(pg_temp.r('b1') -> 'appointment' -> 'rescheduledTo', 'null'::jsonb,
          'book: rescheduledTo is null');
SELECT is(pg_temp.r('b1') -> 'appointment' ->> 'notes', 'Alice Pgtapson prefers mornings',
          'book: notes');
SELECT is(pg_temp.r('b1') -> 'appointment' -> 'metadata', '{"source": "pgtap"}'::jsonb,
          'book: metadata');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('b1') -> 'appointment') ORDER BY 1),
          ARRAY['cancelledAt', 'contactId', 'createdAt', 'durationMinutes', 'id', 'metadata',
                'notes', 'providerId', 'rescheduledTo', 'scheduledAt', 'serviceId', 'status'],
          'book: the appointment object has exactly the API''s fields');
SELECT ok(jsonb_typeof(pg_temp.r('b1') -> 'lockWaitUs') = 'number'
          AND (pg_temp.r('b1') ->> 'lockWaitUs')::bigint >= 0,
          'book: lockWaitUs is a non-negative number');
SELECT ok(NOT pg_temp.r('b1') ? 'replayed', 'book: no "replayed" without an idempotency key');

SELECT results_eq($$
    SELECT org_id, provider_id, contact_id, service_id, scheduled_at, duration_minutes::int,
           ends_at, buffered_start, buffered_end, status::text, cancelled_at, rescheduled_to
      FROM appointments WHERE id = pg_temp.aid('b1')
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid,
            'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
            'cccccccc-0000-4000-8000-000000000001'::uuid, NULL::uuid,
            '2030-01-01 14:00:00+00'::timestamptz, 60, '2030-01-01 15:00:00+00'::timestamptz,
            '2030-01-01 14:00:00+00'::timestamptz, '2030-01-01 15:00:00+00'::timestamptz,
            'confirmed', NULL::timestamptz, NULL::uuid)
    $$, 'book: the appointments row holds the range, buffered range and status');

SELECT results_eq($$
    SELECT org_id, actor, action, entity_type::text FROM audit_logs
     WHERE entity_id = pg_temp.aid('b1')
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'admin_key:pgtap',
            'appointment.booked', 'appointment')
    $$, 'book: exactly one audit row, appointment.booked, with the actor');
SELECT is((SELECT details ->> 'scheduledAt' FROM audit_logs WHERE entity_id = pg_temp.aid('b1')),
          '2030-01-01T14:00:00.000Z', 'book: audit details carry the time');
SELECT ok((SELECT details::text !~* '(alice|pgtapson|5550001111|example\.test|mornings)'
             FROM audit_logs WHERE entity_id = pg_temp.aid('b1')),
          'book: audit details hold no personal data (name, phone, email, notes)');
SELECT results_eq($$
    SELECT org_id, event_type, fanned_out FROM outbox_events
     WHERE entity_id = pg_temp.aid('b1')
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'appointment.booked', false)
    $$, 'book: exactly one pending event appointment.booked');
SELECT is((SELECT event_type FROM audit_logs WHERE entity_id = pg_temp.aid('b1')),
          'appointment.booked', 'book: the event is the audit entry itself');
SELECT is((SELECT payload -> 'appointment' FROM outbox_events WHERE entity_id = pg_temp.aid('b1')),
          pg_temp.r('b1') -> 'appointment', 'book: the event''s payload is the appointment as booked');

-- Overlap: conflict, and nothing written -----------------------------------
INSERT INTO snap VALUES ('before-conflict', pg_temp.totals());
INSERT INTO res VALUES ('c1', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-01-01 14:30:00+00', 30));
SELECT is(pg_temp.r('c1') ->> 'status', 'conflict', 'overlap 14:30/30 vs 14:00/60: conflict');
SELECT is(pg_temp.r('c1') -> 'conflictingAppointment',
          jsonb_build_object('id', pg_temp.aid('b1'), 'scheduledAt', '2030-01-01T14:00:00.000Z',
                             'durationMinutes', 60),
          'conflict: conflictingAppointment is {id, scheduledAt, durationMinutes} of the holder');
SELECT ok(NOT pg_temp.r('c1') ? 'appointment', 'conflict: no appointment in the result');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-conflict'),
          'conflict: no appointment, audit or outbox row written');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 14:00:00+00', 60) ->> 'status',
          'conflict', 'the exact same range: conflict');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 13:00:00+00', 180) ->> 'status',
          'conflict', 'an enclosing range (13:00-16:00): conflict');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 14:59:00+00', 30) ->> 'status',
          'conflict', 'a one-minute overlap (14:59): conflict');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 13:31:00+00', 30) ->> 'status',
          'conflict', 'a one-minute overlap at the start (13:31-14:01): conflict');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-conflict'),
          'conflicts: still nothing written');

-- Touching ranges and other providers ----------------------------------------
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 15:00:00+00', 30) ->> 'status',
          'booked', 'touching after (15:00-15:30 next to 14:00-15:00): booked');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 13:30:00+00', 30) ->> 'status',
          'booked', 'touching before (13:30-14:00): booked');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-01 14:00:00+00', 60) ->> 'status',
          'booked', 'another provider at the same time: booked');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000003',
                       'cccccccc-0000-4000-8000-000000000004', NULL,
                       '2030-01-01 14:00:00+00', 60,
                       p_org => '22222222-2222-4222-8222-222222222222') ->> 'status',
          'booked', 'another organization at the same time: booked');
SELECT is((SELECT count(*)::int FROM appointments
            WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'
              AND scheduled_at >= '2030-01-01' AND scheduled_at < '2030-01-02'),
          3, 'provider 1 holds exactly the three non-overlapping bookings of the day');

-- Service buffers and default duration ---------------------------------------
-- Service 1: 30 min with 15 min after. 14:00 blocks [14:00, 14:45).
INSERT INTO res VALUES ('ba', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000001', '2030-01-02 14:00:00+00', NULL));
SELECT is(pg_temp.r('ba') ->> 'status', 'booked', 'service with buffer after: booked');
SELECT is((pg_temp.r('ba') -> 'appointment' ->> 'durationMinutes')::int, 30,
          'durationMinutes NULL: the service''s duration is used');
SELECT is(pg_temp.r('ba') -> 'appointment' ->> 'serviceId', 'dddddddd-0000-4000-8000-000000000001',
          'serviceId is returned');
SELECT results_eq($$
    SELECT ends_at, buffer_before_minutes::int, buffer_after_minutes::int, buffered_start, buffered_end
      FROM appointments WHERE id = pg_temp.aid('ba')
    $$, $$
    VALUES ('2030-01-02 14:30:00+00'::timestamptz, 0, 15,
            '2030-01-02 14:00:00+00'::timestamptz, '2030-01-02 14:45:00+00'::timestamptz)
    $$, 'the row stores the service''s buffers and the buffered range');
INSERT INTO res VALUES ('ba2', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-01-02 14:40:00+00', 30));
SELECT is(pg_temp.r('ba2') ->> 'status', 'conflict', 'bufferAfter: 14:40 is inside 14:30+15: conflict');
SELECT is((pg_temp.r('ba2') -> 'conflictingAppointment' ->> 'id')::uuid, pg_temp.aid('ba'),
          'bufferAfter: the conflict names the buffered appointment');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-02 14:45:00+00', 30) ->> 'status',
          'booked', 'bufferAfter: 14:45 (where the buffer ends) is booked');
-- A new booking's own buffer after: plain 16:00/30 exists.
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-02 16:00:00+00', 30) ->> 'status',
          'booked', 'a plain booking at 16:00');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001',
                       'dddddddd-0000-4000-8000-000000000001', '2030-01-02 15:30:00+00', NULL)
          ->> 'status',
          'conflict', 'the new booking''s own buffer after (15:30+30+15) hits 16:00: conflict');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001',
                       'dddddddd-0000-4000-8000-000000000001', '2030-01-02 15:15:00+00', NULL)
          ->> 'status',
          'booked', 'the new booking''s buffer ends exactly at 16:00: booked');

-- Service 2: 30 min with 15 min before. 14:00 blocks [13:45, 14:30).
INSERT INTO res VALUES ('bb', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000002', '2030-01-03 14:00:00+00', NULL));
SELECT is(pg_temp.r('bb') ->> 'status', 'booked', 'service with buffer before: booked');
SELECT is((SELECT buffered_start FROM appointments WHERE id = pg_temp.aid('bb')),
          '2030-01-03 13:45:00+00'::timestamptz, 'bufferBefore: buffered_start is 13:45');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-03 13:30:00+00', 30) ->> 'status',
          'conflict', 'bufferBefore: 13:30-14:00 overlaps the buffer: conflict');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-03 13:15:00+00', 30) ->> 'status',
          'booked', 'bufferBefore: 13:15-13:45 touches the buffer: booked');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-01-03 10:00:00+00', 30) ->> 'status',
          'booked', 'a plain booking 10:00-10:30');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001',
                       'dddddddd-0000-4000-8000-000000000002', '2030-01-03 10:40:00+00', NULL)
          ->> 'status',
          'conflict', 'the new booking''s own buffer before (10:40-15) hits 10:30: conflict');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001',
                       'dddddddd-0000-4000-8000-000000000002', '2030-01-03 10:45:00+00', NULL)
          ->> 'status',
          'booked', 'the new booking''s buffer before starts exactly at 10:30: booked');

-- An explicit duration wins over the service's; buffers still apply.
INSERT INTO res VALUES ('bd', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000001', '2030-01-04 09:00:00+00', 20));
SELECT is((pg_temp.r('bd') -> 'appointment' ->> 'durationMinutes')::int, 20,
          'an explicit durationMinutes overrides the service''s');
SELECT is((SELECT buffered_end FROM appointments WHERE id = pg_temp.aid('bd')),
          '2030-01-04 09:35:00+00'::timestamptz, 'the service''s buffer applies to it (09:20+15)');
SELECT is((pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
                        'cccccccc-0000-4000-8000-000000000001',
                        'dddddddd-0000-4000-8000-000000000003', '2030-01-04 11:00:00+00', NULL)
           -> 'appointment' ->> 'durationMinutes')::int,
          45, 'durationMinutes NULL with a 45-minute service: 45');

-- One audit row and one outbox event per booked appointment, none per conflict.
SELECT is((SELECT count(*)::int FROM audit_logs WHERE action = 'appointment.booked'),
          (SELECT count(*)::int FROM appointments),
          'one appointment.booked audit row per appointment');
SELECT is((SELECT count(*)::int FROM outbox_events WHERE event_type = 'appointment.booked'),
          (SELECT count(*)::int FROM appointments),
          'one appointment.booked outbox event per appointment');
SELECT is_empty($$
    SELECT a.id FROM audit_logs a
     WHERE a.entity_type = 'appointment'
       AND NOT EXISTS (SELECT 1 FROM appointments p WHERE p.id = a.entity_id AND p.org_id = a.org_id)
    $$, 'every audit row names an appointment of its own organization');
SELECT is_empty($$
    SELECT a.id FROM audit_logs a
     WHERE a.details::text ~* '(alice|bob|carol|pgtapson|elsewhere|555000|example\.test|mornings)'
    $$, 'no audit row holds personal data');

-- Invalid requests: an error, and nothing written ----------------------------
INSERT INTO snap VALUES ('before-errors', pg_temp.totals());
SELECT throws_ok($$
    SELECT pg_temp.book('eeeeeeee-0000-4000-8000-000000000000',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'providerId does not exist', 'unknown provider: BK001');
SELECT is(pg_temp.err($$
    SELECT pg_temp.book('eeeeeeee-0000-4000-8000-000000000000',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', 30)
    $$), 'BK001 providerId', 'unknown provider: COLUMN providerId');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'eeeeeeee-0000-4000-8000-000000000000', NULL, '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'contactId does not exist', 'unknown contact: BK001');
SELECT is(pg_temp.err($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'eeeeeeee-0000-4000-8000-000000000000', NULL, '2030-01-05 10:00+00', 30)
    $$), 'BK001 contactId', 'unknown contact: COLUMN contactId');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001',
                        'eeeeeeee-0000-4000-8000-000000000000', '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'serviceId does not exist', 'unknown service: BK001');
SELECT is(pg_temp.err($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001',
                        'eeeeeeee-0000-4000-8000-000000000000', '2030-01-05 10:00+00', 30)
    $$), 'BK001 serviceId', 'unknown service: COLUMN serviceId');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000003', NULL, '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'contactId does not exist', 'erased contact: BK001');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', NULL)
    $$, 'BK001', 'durationMinutes must be an integer from 1 to 1440',
    'no duration and no service: BK001');
SELECT is(pg_temp.err($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', NULL)
    $$), 'BK001 durationMinutes', 'no duration: COLUMN durationMinutes');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', 0)
    $$, 'BK001', NULL, 'durationMinutes 0: BK001');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', 1441)
    $$, 'BK001', NULL, 'durationMinutes 1441: BK001');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
                       'cccccccc-0000-4000-8000-000000000001', NULL,
                       '2030-01-06 00:00:00+00', 1440) ->> 'status',
          'booked', 'durationMinutes 1440 (the maximum): booked');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
                       'cccccccc-0000-4000-8000-000000000001', NULL,
                       '2030-01-07 10:00:00+00', 1) ->> 'status',
          'booked', 'durationMinutes 1 (the minimum): booked');
INSERT INTO snap VALUES ('before-errors-2', pg_temp.totals());
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000003',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'providerId does not exist', 'another organization''s provider: BK001');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000004', NULL, '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'contactId does not exist', 'another organization''s contact: BK001');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001',
                        'dddddddd-0000-4000-8000-000000000004', '2030-01-05 10:00+00', 30)
    $$, 'BK001', 'serviceId does not exist', 'another organization''s service: BK001');
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-05 10:00+00', 30,
                        p_org => '22222222-2222-4222-8222-222222222222')
    $$, 'BK001', 'providerId does not exist',
    'org2 booking with org1''s provider: BK001');

-- Lock keys that do not cover the range: BK005 (caller bug).
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{1,2,3}',
        '2030-01-05 14:15+00', '2030-01-05 15:00+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', 'lock keys do not cover the booked range', 'lock span starts too late: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{1,2,3}',
        '2030-01-05 14:00+00', '2030-01-05 14:45+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'lock span ends too early: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
        'dddddddd-0000-4000-8000-000000000001',
        '2030-01-05 14:00+00', NULL, NULL, NULL, '{1,2}',
        '2030-01-05 14:00+00', '2030-01-05 14:30+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'lock span covers the appointment but not its buffer after: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
        'dddddddd-0000-4000-8000-000000000002',
        '2030-01-05 14:00+00', NULL, NULL, NULL, '{1,2}',
        '2030-01-05 14:00+00', '2030-01-05 14:30+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'lock span covers the appointment but not its buffer before: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{4,3,2,1}',
        '2030-01-05 14:00+00', '2030-01-05 15:00+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', 'lock keys are not in ascending order', 'descending lock keys: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{1,3,2,4}',
        '2030-01-05 14:00+00', '2030-01-05 15:00+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'lock keys out of order in the middle: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{1,2,2,3}',
        '2030-01-05 14:00+00', '2030-01-05 15:00+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'duplicate lock keys (not strictly ascending): BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{}',
        '2030-01-05 14:00+00', '2030-01-05 15:00+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'no lock keys: BK005');
SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, NULL,
        NULL, NULL, 2000, 'admin_key:pgtap', NULL, NULL)
    $$, 'BK005', NULL, 'NULL lock keys and bounds: BK005');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-errors-2'),
          'failed bookings wrote nothing');
SELECT is((SELECT v FROM snap WHERE k = 'before-errors-2'),
          (SELECT format('appointments=%s audit=%s outbox=%s idempotency=%s',
                         (split_part(split_part(v, ' ', 1), '=', 2))::int + 2,
                         (split_part(split_part(v, ' ', 2), '=', 2))::int + 2,
                         (split_part(split_part(v, ' ', 3), '=', 2))::int + 2,
                         split_part(split_part(v, ' ', 4), '=', 2))
             FROM snap WHERE k = 'before-errors'),
          'between the error checks only the two valid bookings were written');
-- The check passes with exactly the right (15-minute aligned) bounds.
SELECT is(book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-05 14:00+00', 60, NULL, NULL, '{1,2,3,4}',
        '2030-01-05 14:00+00', '2030-01-05 15:00+00', 2000, 'admin_key:pgtap', NULL, NULL)
          ->> 'status', 'booked', 'exact 15-minute bounds 14:00-15:00 for 14:00/60: booked');

SELECT * FROM finish();
ROLLBACK;
