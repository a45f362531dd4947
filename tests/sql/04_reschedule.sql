-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(51);

\ir fixtures.psql
-- Into a free slot -------------------------------------------------------------
INSERT INTO res VALUES ('a', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000003', '2030-03-01 09:00:00+00', NULL,
    p_notes => 'first visit', p_metadata => '{"channel": "phone", "n": 1}'));
SELECT is(pg_temp.r('a') ->> 'status', 'booked', 'fixture: 09:00 consultation (45 min) booked');
INSERT INTO snap VALUES ('before-r1', pg_temp.totals());
INSERT INTO res VALUES ('r1', pg_temp.resched(pg_temp.aid('a'), '2030-03-01 11:00:00+00'));

SELECT is(pg_temp.r('r1') ->> 'status', 'rescheduled', 'reschedule: status rescheduled');
SELECT isnt(pg_temp.aid('r1'), pg_temp.aid('a'), 'reschedule: the new appointment has a new id');
SELECT is(pg_temp.r('r1') -> 'appointment' ->> 'scheduledAt', '2030-03-01T11:00:00.000Z',
          'reschedule: new scheduledAt in toISOString() form');
SELECT is(pg_temp.r('r1') -> 'appointment' ->> 'status', 'confirmed',
          'reschedule: the new appointment is confirmed');
SELECT is((pg_temp.r('r1') -> 'appointment') - 'id' - 'scheduledAt',
          (pg_temp.r('a') -> 'appointment') - 'id' - 'scheduledAt',
          'reschedule: duration, provider, contact, service, notes, metadata carry over');
SELECT is((pg_temp.r('r1') -> 'appointment' ->> 'durationMinutes')::int, 45,
          'reschedule: durationMinutes omitted keeps 45');
SELECT is(pg_temp.r('r1') -> 'appointment' ->> 'providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
          'reschedule: providerId omitted keeps the old provider');
SELECT is(pg_temp.r('r1') -> 'previousAppointment' ->> 'id', pg_temp.aid('a')::text,
          'reschedule: previousAppointment is the old one');
SELECT is(pg_temp.r('r1') -> 'previousAppointment' ->> 'status', 'rescheduled',
          'reschedule: previousAppointment has status rescheduled');
SELECT is(pg_temp.r('r1') -> 'previousAppointment' ->> 'rescheduledTo', pg_temp.aid('r1')::text,
          'reschedule: previousAppointment.rescheduledTo is the new id');
SELECT ok(jsonb_typeof(pg_temp.r('r1') -> 'lockWaitUs') = 'number',
          'reschedule: lockWaitUs is a number');
SELECT results_eq(format($$
    SELECT status::text, rescheduled_to, rescheduled_from, cancelled_at, scheduled_at
      FROM appointments WHERE id = %L$$, pg_temp.aid('a')),
    format($$VALUES ('rescheduled', %L::uuid, NULL::uuid, NULL::timestamptz,
                     '2030-03-01 09:00:00+00'::timestamptz)$$, pg_temp.aid('r1')),
    'reschedule: the old row is rescheduled, rescheduled_to = new id, time unchanged');
SELECT results_eq(format($$
    SELECT status::text, rescheduled_to, rescheduled_from, org_id, provider_id, contact_id, service_id,
           scheduled_at, duration_minutes::int, ends_at, buffered_start, buffered_end, notes::text, metadata::jsonb
      FROM appointments WHERE id = %L$$, pg_temp.aid('r1')),
    format($$VALUES ('confirmed', NULL::uuid, %L::uuid,
                     '11111111-1111-4111-8111-111111111111'::uuid,
                     'aaaaaaaa-0000-4000-8000-000000000001'::uuid,
                     'cccccccc-0000-4000-8000-000000000001'::uuid,
                     'dddddddd-0000-4000-8000-000000000003'::uuid,
                     '2030-03-01 11:00:00+00'::timestamptz, 45,
                     '2030-03-01 11:45:00+00'::timestamptz, '2030-03-01 11:00:00+00'::timestamptz,
                     '2030-03-01 11:45:00+00'::timestamptz, 'first visit',
                     '{"channel": "phone", "n": 1}'::jsonb)$$, pg_temp.aid('a')),
    'reschedule: the new row is confirmed, rescheduled_from = old id, everything carried over');
SELECT results_eq(format($$
    SELECT action, details ->> 'newAppointmentId', details ->> 'scheduledAt',
           details ->> 'previousScheduledAt', actor
      FROM audit_logs WHERE entity_id = %L AND action <> 'appointment.booked'$$, pg_temp.aid('a')),
    format($$VALUES ('appointment.rescheduled', %L, '2030-03-01T11:00:00.000Z',
                     '2030-03-01T09:00:00.000Z', 'admin_key:pgtap')$$, pg_temp.aid('r1')),
    'reschedule: appointment.rescheduled under the old id, details name the new id');
SELECT results_eq(format($$
    SELECT action, details ->> 'rescheduledFrom', details ->> 'scheduledAt'
      FROM audit_logs WHERE entity_id = %L$$, pg_temp.aid('r1')),
    format($$VALUES ('appointment.booked', %L, '2030-03-01T11:00:00.000Z')$$, pg_temp.aid('a')),
    'reschedule: appointment.booked under the new id');
SELECT ok((SELECT bool_and(details::text !~* '(alice|pgtapson|555000|example\.test|first visit|phone)')
             FROM audit_logs),
          'reschedule: no personal data, notes or metadata in the audit log');
SELECT results_eq(format($$
    SELECT event_type, payload ->> 'previousAppointmentId', payload -> 'appointment'
      FROM outbox_events WHERE entity_id = %L$$, pg_temp.aid('r1')),
    format($$SELECT 'appointment.rescheduled', %L, %L::jsonb$$,
           pg_temp.aid('a'), pg_temp.r('r1') -> 'appointment'),
    'reschedule: one appointment.rescheduled outbox event under the new id');
SELECT is((SELECT payload -> 'appointment' ->> 'status' FROM outbox_events
            WHERE entity_id = pg_temp.aid('a') AND event_type = 'appointment.booked'),
          'confirmed', 'reschedule: the old appointment''s booking event still reads as booked');
SELECT is(pg_temp.totals(), (SELECT format('appointments=%s audit=%s outbox=%s idempotency=0',
                                           1 + split_part(split_part(v, ' ', 1), '=', 2)::int,
                                           2 + split_part(split_part(v, ' ', 2), '=', 2)::int,
                                           1 + split_part(split_part(v, ' ', 3), '=', 2)::int)
                                FROM snap WHERE k = 'before-r1'),
          'reschedule: exactly one new appointment, two audit rows, one outbox event');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-03-01 09:00:00+00', 45) ->> 'status',
          'booked', 'reschedule frees the old slot');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-03-01 11:30:00+00', 30) ->> 'status',
          'conflict', 'the new slot is taken');

-- Overlapping its own old range -------------------------------------------------
INSERT INTO res VALUES ('s0', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-03-02 14:00:00+00', 60));
INSERT INTO res VALUES ('s1', pg_temp.resched(pg_temp.aid('s0'), '2030-03-02 14:30:00+00'));
SELECT is(pg_temp.r('s1') ->> 'status', 'rescheduled',
          'reschedule 14:00/60 -> 14:30/60 (overlapping itself): rescheduled');
SELECT is((SELECT ends_at FROM appointments WHERE id = pg_temp.aid('s1')),
          '2030-03-02 15:30:00+00'::timestamptz, 'the new row runs 14:30-15:30');
INSERT INTO res VALUES ('s2', pg_temp.resched(pg_temp.aid('s1'), '2030-03-02 14:30:00+00', 90));
SELECT is(pg_temp.r('s2') ->> 'status', 'rescheduled',
          'reschedule to the same start with a longer duration: rescheduled');
SELECT is((pg_temp.r('s2') -> 'appointment' ->> 'durationMinutes')::int, 90,
          'an explicit durationMinutes replaces the old one');
-- With a buffer after: 09:00/30 + 15 -> 09:10 overlaps its own old buffered range.
INSERT INTO res VALUES ('t0', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000002',
    'dddddddd-0000-4000-8000-000000000001', '2030-03-02 09:00:00+00', NULL));
INSERT INTO res VALUES ('t1', pg_temp.resched(pg_temp.aid('t0'), '2030-03-02 09:10:00+00'));
SELECT is(pg_temp.r('t1') ->> 'status', 'rescheduled',
          'a buffered appointment moved within its own range: rescheduled');
SELECT results_eq(format($$
    SELECT buffer_before_minutes::int, buffer_after_minutes::int, buffered_start, buffered_end
      FROM appointments WHERE id = %L$$, pg_temp.aid('t1')),
    $$VALUES (0, 15, '2030-03-02 09:10:00+00'::timestamptz, '2030-03-02 09:55:00+00'::timestamptz)$$,
    'the service''s buffers carry over to the new row');

-- Into another appointment's range: conflict, nothing changes --------------------
INSERT INTO res VALUES ('c', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-03-03 10:00:00+00', 30));
INSERT INTO res VALUES ('d', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-03-03 11:00:00+00', 30));
INSERT INTO snap VALUES ('before-conflict', pg_temp.totals());
INSERT INTO res VALUES ('cx', pg_temp.resched(pg_temp.aid('c'), '2030-03-03 11:15:00+00'));
SELECT is(pg_temp.r('cx') ->> 'status', 'conflict', 'reschedule into another appointment: conflict');
SELECT is(pg_temp.r('cx') -> 'conflictingAppointment',
          jsonb_build_object('id', pg_temp.aid('d'), 'scheduledAt', '2030-03-03T11:00:00.000Z',
                             'durationMinutes', 30),
          'conflict: names the other appointment');
SELECT results_eq(format('SELECT status::text, rescheduled_to FROM appointments WHERE id = %L',
                         pg_temp.aid('c')),
                  $$VALUES ('confirmed', NULL::uuid)$$,
                  'conflict: the old appointment is still confirmed');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-conflict'),
          'conflict: no new appointment, audit or outbox row');
-- Buffers of the moved appointment count: 09:00 cleaning (30 + 15 after) vs 12:00.
INSERT INTO res VALUES ('f', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
    'dddddddd-0000-4000-8000-000000000001', '2030-03-04 09:00:00+00', NULL));
INSERT INTO res VALUES ('g', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-03-04 12:00:00+00', 30));
SELECT is(pg_temp.resched(pg_temp.aid('f'), '2030-03-04 11:20:00+00') ->> 'status', 'conflict',
          'reschedule: the carried-over buffer after (11:50+15) hits 12:00: conflict');
SELECT is(pg_temp.resched(pg_temp.aid('f'), '2030-03-04 11:15:00+00') ->> 'status', 'rescheduled',
          'reschedule: the buffer ends exactly at 12:00: rescheduled');

-- Another provider ----------------------------------------------------------------
INSERT INTO res VALUES ('p', pg_temp.resched(pg_temp.aid('c'), '2030-03-03 11:00:00+00',
                                             NULL, 'aaaaaaaa-0000-4000-8000-000000000002'));
SELECT is(pg_temp.r('p') ->> 'status', 'rescheduled',
          'reschedule to another provider at a time taken on the first: rescheduled');
SELECT is(pg_temp.r('p') -> 'appointment' ->> 'providerId', 'aaaaaaaa-0000-4000-8000-000000000002',
          'reschedule: the new provider is used');
SELECT is((pg_temp.r('p') -> 'appointment' ->> 'durationMinutes')::int, 30,
          'reschedule: the duration is kept');

-- Invalid states and requests -------------------------------------------------------
INSERT INTO res VALUES ('k', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-03-05 10:00:00+00', 30));
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('k'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'fixture: a cancelled appointment');
INSERT INTO res VALUES ('o2', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000003', 'cccccccc-0000-4000-8000-000000000004', NULL,
    '2030-03-05 10:00:00+00', 30, p_org => '22222222-2222-4222-8222-222222222222'));
INSERT INTO snap VALUES ('before-errors', pg_temp.totals());
SELECT throws_ok(format('SELECT pg_temp.resched(%L, %L)', pg_temp.aid('k'), '2030-03-05 12:00+00'),
                 'BK003', NULL, 'rescheduling a cancelled appointment: BK003');
SELECT throws_ok(format('SELECT pg_temp.resched(%L, %L)', pg_temp.aid('a'), '2030-03-01 15:00+00'),
                 'BK003', NULL, 'rescheduling a rescheduled appointment: BK003');
SELECT throws_ok($$
    SELECT pg_temp.resched('eeeeeeee-0000-4000-8000-000000000000', '2030-03-05 12:00+00')
    $$, 'BK002', 'appointment not found', 'unknown id: BK002');
SELECT throws_ok(format('SELECT pg_temp.resched(%L, %L)', pg_temp.aid('o2'), '2030-03-05 12:00+00'),
                 'BK002', 'appointment not found', 'another organization''s appointment: BK002');
SELECT throws_ok(format('SELECT pg_temp.resched(%L, %L, NULL, %L)', pg_temp.aid('d'),
                        '2030-03-05 12:00+00', 'eeeeeeee-0000-4000-8000-000000000000'),
                 'BK001', 'providerId does not exist', 'unknown provider: BK001');
SELECT is(pg_temp.err(format('SELECT pg_temp.resched(%L, %L, NULL, %L)', pg_temp.aid('d'),
                             '2030-03-05 12:00+00', 'aaaaaaaa-0000-4000-8000-000000000003')),
          'BK001 providerId', 'another organization''s provider: BK001, COLUMN providerId');
SELECT is(pg_temp.err(format('SELECT pg_temp.resched(%L, %L, 0)', pg_temp.aid('d'),
                             '2030-03-05 12:00+00')),
          'BK001 durationMinutes', 'durationMinutes 0: BK001, COLUMN durationMinutes');
SELECT throws_ok(format('SELECT pg_temp.resched(%L, %L, 1441)', pg_temp.aid('d'),
                        '2030-03-05 12:00+00'),
                 'BK001', NULL, 'durationMinutes 1441: BK001');
SELECT throws_ok(format($$
    SELECT reschedule_appointment_with_lock(%L, %L, NULL, '2030-03-05 12:00+00', NULL,
        '{1,2}', '2030-03-05 12:15+00', '2030-03-05 12:30+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, '11111111-1111-4111-8111-111111111111', pg_temp.aid('d')),
    'BK005', NULL, 'reschedule with a lock span that misses the new range: BK005');
SELECT throws_ok(format($$
    SELECT reschedule_appointment_with_lock(%L, %L, NULL, '2030-03-05 12:00+00', NULL,
        '{2,1}', '2030-03-05 12:00+00', '2030-03-05 12:30+00', 2000, 'admin_key:pgtap', NULL, NULL)
    $$, '11111111-1111-4111-8111-111111111111', pg_temp.aid('d')),
    'BK005', NULL, 'reschedule with descending lock keys: BK005');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-errors'),
          'failed reschedules wrote nothing');
SELECT results_eq(format('SELECT status::text, rescheduled_to FROM appointments WHERE id = %L',
                         pg_temp.aid('d')),
                  $$VALUES ('confirmed', NULL::uuid)$$,
                  'after the failed reschedules the appointment is untouched');

-- The deferred foreign keys hold at commit time --------------------------------------
SELECT lives_ok('SET CONSTRAINTS ALL IMMEDIATE',
                'rescheduled_to / rescheduled_from all point at existing rows');

SELECT * FROM finish();
ROLLBACK;
