-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(31);

\ir fixtures.psql
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
