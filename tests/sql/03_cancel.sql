-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(36);

\ir fixtures.psql
-- A confirmed appointment, cancelled ----------------------------------------
INSERT INTO res VALUES ('a', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-02-01 10:00:00+00', 60));
SELECT is(pg_temp.r('a') ->> 'status', 'booked', 'fixture: 10:00/60 booked');
INSERT INTO snap VALUES ('before-cancel', pg_temp.totals());
INSERT INTO res VALUES ('x', cancel_appointment('11111111-1111-4111-8111-111111111111',
    pg_temp.aid('a'), 'Alice Pgtapson called in sick', 2000, 'admin_key:pgtap'));

SELECT is(pg_temp.r('x') ->> 'status', 'cancelled', 'cancel: status cancelled');
SELECT is(pg_temp.aid('x'), pg_temp.aid('a'), 'cancel: returns the same appointment');
SELECT is(pg_temp.r('x') -> 'appointment' ->> 'status', 'cancelled',
          'cancel: the appointment''s status is cancelled');
SELECT is(pg_temp.r('x') -> 'appointment' ->> 'cancelledAt', bk_iso(now()),
          'cancel: cancelledAt is set, in toISOString() form');
SELECT is((pg_temp.r('x') -> 'appointment') - 'status' - 'cancelledAt',
          (pg_temp.r('a') -> 'appointment') - 'status' - 'cancelledAt',
          'cancel: every other field is unchanged');
SELECT results_eq($$
    SELECT status::text, cancelled_at, cancel_reason::text FROM appointments WHERE id = pg_temp.aid('a')
    $$, $$
    VALUES ('cancelled', now(), 'Alice Pgtapson called in sick')
    $$, 'cancel: the row is cancelled (soft delete) with cancelled_at and the reason');
SELECT results_eq($$
    SELECT org_id, actor, action, entity_type::text, details ->> 'scheduledAt' FROM audit_logs
     WHERE entity_id = pg_temp.aid('a') AND action <> 'appointment.booked'
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'admin_key:pgtap',
            'appointment.cancelled', 'appointment', '2030-02-01T10:00:00.000Z')
    $$, 'cancel: one appointment.cancelled audit row');
SELECT ok((SELECT bool_and(details::text !~* '(sick|alice|pgtapson)') FROM audit_logs
            WHERE entity_id = pg_temp.aid('a')),
          'cancel: the audit row holds neither the reason nor personal data');
SELECT results_eq($$
    SELECT event_type, payload -> 'appointment' FROM outbox_events
     WHERE entity_id = pg_temp.aid('a') AND event_type <> 'appointment.booked'
    $$, $$
    SELECT 'appointment.cancelled', pg_temp.r('x') -> 'appointment'
    $$, 'cancel: one appointment.cancelled outbox event with the cancelled appointment');
SELECT is((SELECT payload -> 'appointment' FROM outbox_events
            WHERE entity_id = pg_temp.aid('a') AND event_type = 'appointment.booked'),
          (pg_temp.r('x') -> 'appointment')
              || '{"status": "confirmed", "cancelledAt": null}',
          'cancel: the booking''s event still reads as booked (not sent yet, sent as it was)');
SELECT is(pg_temp.totals(), (SELECT format('appointments=%s audit=%s outbox=%s idempotency=%s',
                                           count(*), 2, 2, 0) FROM appointments),
          'cancel: no new appointment row; one more audit row and outbox event');

-- The slot is free at once ----------------------------------------------------
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-02-01 10:00:00+00', 60, 0, 0, NULL),
          '{"available": true}'::jsonb, 'after cancel: check_availability says available');
INSERT INTO res VALUES ('b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-02-01 10:00:00+00', 60));
SELECT is(pg_temp.r('b') ->> 'status', 'booked', 'after cancel: the same time books again');
SELECT is((SELECT count(*)::int FROM appointments
            WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'
              AND scheduled_at = '2030-02-01 10:00:00+00'),
          2, 'the cancelled row stays beside the new confirmed one');
SELECT is((check_availability('11111111-1111-4111-8111-111111111111',
                              'aaaaaaaa-0000-4000-8000-000000000001',
                              '2030-02-01 10:00:00+00', 60, 0, 0, NULL)
           -> 'conflictingAppointment' ->> 'id')::uuid,
          pg_temp.aid('b'), 'the new booking, not the cancelled one, now holds the slot');

-- Cancelling again: unchanged, nothing written --------------------------------
INSERT INTO snap VALUES ('before-recancel', pg_temp.totals());
INSERT INTO res VALUES ('y', cancel_appointment('11111111-1111-4111-8111-111111111111',
    pg_temp.aid('a'), 'second reason', 2000, 'admin_key:pgtap'));
SELECT is(pg_temp.r('y') ->> 'status', 'unchanged', 'cancel again: status unchanged');
SELECT is(pg_temp.r('y') -> 'appointment', pg_temp.r('x') -> 'appointment',
          'cancel again: the same cancelled appointment (same cancelledAt)');
SELECT is((SELECT cancel_reason FROM appointments WHERE id = pg_temp.aid('a')),
          'Alice Pgtapson called in sick', 'cancel again: the first reason is kept');
SELECT is((SELECT count(*)::int FROM audit_logs
            WHERE entity_id = pg_temp.aid('a') AND action = 'appointment.cancelled'),
          1, 'cancel again: no second audit row');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-recancel'),
          'cancel again: nothing written at all');

-- A NULL reason ---------------------------------------------------------------
INSERT INTO res VALUES ('c', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000001', '2030-02-03 09:00:00+00', NULL));
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('c'), NULL,
                             NULL, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'cancel without a reason (and a NULL lock timeout): cancelled');
SELECT is((SELECT cancel_reason FROM appointments WHERE id = pg_temp.aid('c')), NULL,
          'cancel without a reason: cancel_reason is NULL');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-02-03 09:30:00+00', 15) ->> 'status',
          'booked', 'cancelling frees the buffer too (09:30 was in the buffer after)');

-- A rescheduled appointment cannot be cancelled -------------------------------
INSERT INTO res VALUES ('r0', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-02-02 10:00:00+00', 30));
INSERT INTO res VALUES ('r1', pg_temp.resched(pg_temp.aid('r0'), '2030-02-02 11:00:00+00'));
SELECT is(pg_temp.r('r1') ->> 'status', 'rescheduled', 'fixture: rescheduled 10:00 -> 11:00');
INSERT INTO snap VALUES ('before-bk003', pg_temp.totals());
SELECT throws_ok(format('SELECT cancel_appointment(%L, %L, NULL, 2000, %L)',
                        '11111111-1111-4111-8111-111111111111', pg_temp.aid('r0'),
                        'admin_key:pgtap'),
                 'BK003', NULL, 'cancelling a rescheduled appointment: BK003');
SELECT results_eq(format('SELECT status::text, cancelled_at, rescheduled_to FROM appointments WHERE id = %L',
                         pg_temp.aid('r0')),
                  format('VALUES (%L, NULL::timestamptz, %L::uuid)', 'rescheduled', pg_temp.aid('r1')),
                  'after BK003 the rescheduled appointment is unchanged');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-bk003'),
          'BK003: nothing written');
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('r1'),
                             NULL, 2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'the new appointment of a reschedule can be cancelled');

-- Unknown ids and other organizations: BK002 ------------------------------------
INSERT INTO res VALUES ('o2', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000003', 'cccccccc-0000-4000-8000-000000000004', NULL,
    '2030-02-01 10:00:00+00', 60, p_org => '22222222-2222-4222-8222-222222222222'));
SELECT is(pg_temp.r('o2') ->> 'status', 'booked', 'fixture: org2 booking');
INSERT INTO snap VALUES ('before-bk002', pg_temp.totals());
SELECT throws_ok($$
    SELECT cancel_appointment('11111111-1111-4111-8111-111111111111',
                              'eeeeeeee-0000-4000-8000-000000000000', NULL, 2000, 'admin_key:pgtap')
    $$, 'BK002', 'appointment not found', 'unknown id: BK002');
SELECT throws_ok(format('SELECT cancel_appointment(%L, %L, NULL, 2000, %L)',
                        '11111111-1111-4111-8111-111111111111', pg_temp.aid('o2'),
                        'admin_key:pgtap'),
                 'BK002', 'appointment not found', 'another organization''s appointment: BK002');
SELECT throws_ok(format('SELECT cancel_appointment(%L, %L, NULL, 2000, %L)',
                        '22222222-2222-4222-8222-222222222222', pg_temp.aid('b'),
                        'admin_key:pgtap'),
                 'BK002', 'appointment not found',
                 'org2 cancelling org1''s appointment: BK002');
SELECT is((SELECT status FROM appointments WHERE id = pg_temp.aid('o2')), 'confirmed',
          'the other organization''s appointment is still confirmed');
SELECT is((SELECT status FROM appointments WHERE id = pg_temp.aid('b')), 'confirmed',
          'org1''s appointment is still confirmed');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-bk002'),
          'BK002: nothing written');

SELECT * FROM finish();
ROLLBACK;
