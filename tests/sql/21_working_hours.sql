-- bk_within_working_hours(): is an appointment inside one working-hours
-- window of its local day? Run: psql -X -q -t -A -v ON_ERROR_STOP=1
-- "$DATABASE_URL" -f THIS_FILE on a migrated database. Rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET LOCAL TimeZone = 'Asia/Kolkata';   -- must not matter
SELECT plan(35);

-- w(hours, tz, start, minutes): shorthand.
CREATE FUNCTION pg_temp.w(p_hours text, p_tz text, p_start timestamptz, p_minutes int)
RETURNS boolean LANGUAGE sql AS $$
SELECT bk_within_working_hours(p_hours::jsonb, p_tz, p_start, p_minutes)
$$;

-- The weekday keys.
SELECT is(ARRAY(SELECT bk_weekday_key(d::date)
                  FROM generate_series(date '2026-06-01', '2026-06-07', interval '1 day') d),
          ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
          'weekday keys: 2026-06-01 (a Monday) to Sunday');

-- One window, UTC. 2026-06-01 is a Monday.
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 10:00Z', 30),
          'inside the window');
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 09:00Z', 30),
          'starting exactly at the window start');
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 16:30Z', 30),
          'ending exactly at the window end');
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 09:00Z', 480),
          'filling the window');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 16:31Z', 30),
          'ending a minute after the window: outside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 08:59Z', 30),
          'starting a minute before the window: outside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 08:00Z', 600),
          'covering the whole window and more: outside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 17:00Z', 30),
          'after the window: outside');
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 10:00:30.5Z', 30),
          'seconds and fractions are fine inside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 16:30:00.001Z', 30),
          'a millisecond past the end is outside');

-- Two windows.
SELECT ok(pg_temp.w('{"mon":[["09:00","12:00"],["13:00","17:00"]]}', 'UTC', '2026-06-01 13:00Z', 60),
          'two windows: inside the second');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","12:00"],["13:00","17:00"]]}', 'UTC', '2026-06-01 11:30Z', 60),
          'two windows: running into the break is outside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","12:00"],["13:00","17:00"]]}', 'UTC', '2026-06-01 11:00Z', 180),
          'two windows: spanning both windows and the break is outside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","12:00"],["13:00","17:00"]]}', 'UTC', '2026-06-01 12:15Z', 30),
          'two windows: inside the break is outside');

-- Closed days and odd input.
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-02 10:00Z', 30),
          'a day left out is closed');
SELECT ok(NOT pg_temp.w('{"tue":[]}', 'UTC', '2026-06-02 10:00Z', 30),
          'a day with no windows is closed');
SELECT ok(NOT pg_temp.w('{}', 'UTC', '2026-06-01 10:00Z', 30), 'no working hours at all');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 10:00Z', 0),
          'a zero duration is never inside');
SELECT is(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', '2026-06-01 10:00Z', NULL)
          OR pg_temp.w('{"mon":[["09:00","17:00"]]}', NULL, '2026-06-01 10:00Z', 30)
          OR pg_temp.w(NULL, 'UTC', '2026-06-01 10:00Z', 30)
          OR pg_temp.w('{"mon":[["09:00","17:00"]]}', 'UTC', NULL, 30),
          false, 'NULL arguments give false, not NULL');

-- Local time, not UTC.
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'America/New_York', '2026-06-01 13:00Z', 30),
          'New York: 13:00Z is 09:00 EDT, inside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'America/New_York', '2026-06-01 12:59Z', 30),
          'New York: 12:59Z is 08:59 EDT, outside');
SELECT ok(NOT pg_temp.w('{"mon":[["09:00","17:00"]]}', 'America/New_York', '2026-06-01 10:00Z', 30),
          'New York: 10:00Z is 06:00 local, outside although 10:00 UTC would be inside');
SELECT ok(pg_temp.w('{"mon":[["20:00","21:00"]]}', 'America/New_York', '2026-06-02 00:15Z', 30),
          'New York: Tuesday 00:15Z is Monday 20:15 local: the Monday window counts');
SELECT ok(NOT pg_temp.w('{"tue":[["00:00","01:00"]]}', 'America/New_York', '2026-06-02 00:15Z', 30),
          'New York: ... and not the Tuesday one');
SELECT ok(pg_temp.w('{"mon":[["09:00","17:00"]]}', 'Asia/Tokyo', '2026-06-01 00:00Z', 30),
          'Tokyo: Monday 00:00Z is 09:00 local');

-- Midnight.
SELECT ok(NOT pg_temp.w('{"mon":[["22:00","23:59"]],"tue":[["00:00","02:00"]]}', 'UTC',
                        '2026-06-01 23:30Z', 60),
          'an appointment crossing midnight is outside, even between adjoining windows');
SELECT ok(pg_temp.w('{"mon":[["22:00","23:59"]]}', 'UTC', '2026-06-01 23:29Z', 30),
          'ending 23:59 is inside');

-- Daylight saving time (Europe/London, both on Sundays).
SELECT ok(pg_temp.w('{"sun":[["00:00","04:00"]]}', 'Europe/London', '2026-03-29 00:30Z', 60),
          'spring forward: 00:30 GMT + 60 min ends 02:30 BST, inside 00:00-04:00');
SELECT ok(pg_temp.w('{"sun":[["00:00","04:00"]]}', 'Europe/London', '2026-03-29 02:30Z', 30),
          'spring forward: 03:30 BST + 30 min ends 04:00 BST, inside');
SELECT ok(NOT pg_temp.w('{"sun":[["00:00","02:15"]]}', 'Europe/London', '2026-03-29 00:30Z', 60),
          'spring forward: the real end (02:30 BST) is what counts, not 00:30 + 60 min = 01:30');
SELECT ok(pg_temp.w('{"sun":[["00:00","02:00"]]}', 'Europe/London', '2026-10-24 23:30Z', 120),
          'fall back: 00:30 BST + 2 h ends 01:30 GMT, inside 00:00-02:00');
SELECT ok(NOT pg_temp.w('{"sun":[["00:00","02:00"]]}', 'Europe/London', '2026-10-25 01:30Z', 60),
          'fall back: 01:30 GMT + 1 h ends 02:30 GMT, outside');
SELECT ok(pg_temp.w('{"sun":[["00:00","04:00"]]}', 'Europe/London', '2026-10-25 00:15Z', 30),
          'fall back: the first 01:15 (BST) is inside too, though the wall-clock grid of '
          'free_slots only offers the second (GMT) one');

-- free_slots() offers exactly the grid times this function accepts, apart
-- from the DST gap (no grid time there): on London's spring-forward day,
-- every real instant on the 15-minute grid that is inside and free is a slot.
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('21000000-0000-4000-8000-000000000001', 'WH London', 'Europe/London', '\x2101');
INSERT INTO providers (id, org_id, name, working_hours) VALUES
    ('21aaaaaa-0000-4000-8000-000000000001', '21000000-0000-4000-8000-000000000001', 'Night',
     '{"sun":[["00:00","04:00"]]}');
SELECT is(ARRAY(SELECT slot_start FROM free_slots('21000000-0000-4000-8000-000000000001',
                    '21aaaaaa-0000-4000-8000-000000000001', '2026-03-29', 45, 0, 0, 15, '2000-01-01Z')),
          ARRAY(SELECT t FROM generate_series(timestamptz '2026-03-28 22:00Z', '2026-03-29 06:00Z',
                                              interval '15 minutes') t
                 WHERE bk_within_working_hours('{"sun":[["00:00","04:00"]]}', 'Europe/London', t, 45)
                 ORDER BY t),
          'free_slots agrees with bk_within_working_hours on the spring-forward day');

SELECT * FROM finish();
ROLLBACK;
