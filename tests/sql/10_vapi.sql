-- The voice agent's SQL (API.md "Vapi", sql/60_vapi.sql, migrations/0010_vapi.sql):
-- the words times and hours are said in (vapi_say_clock, vapi_say_day,
-- vapi_say_time, vapi_say_hours), the times offered to a caller
-- (vapi_offer), the caller's contact (vapi_contact), appointments found by
-- phone and time (vapi_find_appointments), the calls recorded
-- (vapi_record_call), bookAppointment in one transaction (vapi_book,
-- vapi_answer), GET /api/calls (vapi_call_list: a call's appointments are
-- the ones its answers in vapi_tool_results name), housekeeping
-- (vapi_purge), the tables' limits and who may call what.
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from the organizations' ones: the functions must
-- speak in the organization's zone and print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(243);

\ir fixtures.psql

-- Helpers of this file ---------------------------------------------------------
-- Times vapi_offer compares with the clock are relative to now(): D is a
-- Monday three weeks ahead in org1's zone (Europe/Berlin), where Dr Default
-- works Mon/Tue 09:00-17:00. pg_temp.d(n) is D + n days; pg_temp.t(n, '10:00')
-- is 10:00 Berlin wall-clock time on that day (no DST change falls on a
-- Monday or Tuesday, so every such time exists once).
CREATE FUNCTION pg_temp.d(n int) RETURNS date LANGUAGE sql STABLE AS $$
SELECT (date_trunc('week', now() AT TIME ZONE 'Europe/Berlin') + interval '3 weeks')::date + n $$;
CREATE FUNCTION pg_temp.t(n int, w time) RETURNS timestamptz LANGUAGE sql STABLE AS $$
SELECT (pg_temp.d(n) + w) AT TIME ZONE 'Europe/Berlin' $$;

-- vapi_offer for org1 (Dr Default unless told), 30 minutes, no buffers, 3 offers.
CREATE FUNCTION pg_temp.offer(p_at timestamptz, p_date date DEFAULT NULL, p_duration int DEFAULT 30,
                              p_before int DEFAULT 0, p_after int DEFAULT 0,
                              p_limit int DEFAULT 3,
                              p_provider uuid DEFAULT 'aaaaaaaa-0000-4000-8000-000000000001',
                              p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111')
RETURNS jsonb LANGUAGE sql AS $$
SELECT public.vapi_offer(p_org, p_provider, p_duration, p_before, p_after, p_at, p_date, p_limit) $$;

-- The offers of a vapi_offer answer: their clocks, and their instants.
CREATE FUNCTION pg_temp.clocks(o jsonb) RETURNS text[] LANGUAGE sql AS $$
SELECT coalesce(array_agg(e ->> 'clock' ORDER BY n), '{}')
  FROM jsonb_array_elements(o -> 'offers') WITH ORDINALITY AS x (e, n) $$;
CREATE FUNCTION pg_temp.ats(o jsonb) RETURNS timestamptz[] LANGUAGE sql AS $$
SELECT coalesce(array_agg((e ->> 'at')::timestamptz ORDER BY n), '{}')
  FROM jsonb_array_elements(o -> 'offers') WITH ORDINALITY AS x (e, n) $$;
-- Berlin wall-clock times of day D + n as the ISO strings an offer carries.
CREATE FUNCTION pg_temp.isos(n int, VARIADIC w time[]) RETURNS text[] LANGUAGE sql STABLE AS $$
SELECT array_agg(bk_iso(pg_temp.t(n, x)) ORDER BY i) FROM unnest(w) WITH ORDINALITY AS u (x, i) $$;
-- True when every offer passes check_availability (same duration and
-- buffers), the offers are in time order, and no instant repeats.
CREATE FUNCTION pg_temp.all_free(o jsonb, p_duration int DEFAULT 30, p_before int DEFAULT 0,
                                 p_after int DEFAULT 0,
                                 p_provider uuid DEFAULT 'aaaaaaaa-0000-4000-8000-000000000001')
RETURNS boolean LANGUAGE sql AS $$
SELECT coalesce(bool_and((public.check_availability('11111111-1111-4111-8111-111111111111',
                                                     p_provider, a, p_duration, p_before,
                                                     p_after, NULL) ->> 'available')::boolean),
                true)
       AND pg_temp.ats(o) = ARRAY(SELECT DISTINCT x FROM unnest(pg_temp.ats(o)) x ORDER BY x)
  FROM unnest(pg_temp.ats(o)) a $$;

-- Holds as 09_holds.sql makes them (hold_slot with correct lock bounds).
CREATE FUNCTION pg_temp.hold(p_provider uuid, p_at timestamptz, p_duration int,
                             p_ttl int DEFAULT 300) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    v_from timestamptz := pg_temp.floor15(p_at);
    v_to timestamptz := pg_temp.ceil15(p_at + make_interval(mins => p_duration));
BEGIN
    PERFORM set_config('bk.expired_holds', '', true);
    RETURN (public.hold_slot('11111111-1111-4111-8111-111111111111', p_provider, NULL, p_at,
                             p_duration, p_ttl, pg_temp.keys(v_from, v_to), v_from, v_to, 2000,
                             'admin_key:pgtap', false, 0) -> 'hold' ->> 'holdId')::uuid;
END
$$;
CREATE PROCEDURE pg_temp.expire(p_id uuid) LANGUAGE sql AS $$
UPDATE public.appointments SET expires_at = now() - interval '1 minute'
 WHERE id = p_id AND status = 'held' $$;

-- A third provider in org1 (works every weekday), an organization in
-- Europe/London whose provider works Sunday nights (for the DST days).
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000009', '11111111-1111-4111-8111-111111111111',
     'Dr Third', bk_default_working_hours(), false);
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('33333333-3333-4333-8333-333333333333', 'London Clinic', 'Europe/London',
     sha256('pgtap-vapi-secret-3'));
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000033', '33333333-3333-4333-8333-333333333333',
     'Dr Night', '{"sun":[["00:00","04:00"]]}', true);


-- vapi_say_clock, vapi_say_day, vapi_say_time ------------------------------------
SELECT is(vapi_say_clock('2030-01-15 14:00+00', 'Europe/London'), '2:00 pm',
          'say_clock: 14:00Z in January is 2:00 pm in London (GMT)');
SELECT is(vapi_say_clock('2030-07-15 14:00+00', 'Europe/London'), '3:00 pm',
          'say_clock: 14:00Z in July is 3:00 pm in London (BST)');
SELECT is(vapi_say_clock('2030-01-15 00:00+00', 'Europe/London'), '12:00 am',
          'say_clock: midnight is 12:00 am');
SELECT is(vapi_say_clock('2030-01-15 12:00+00', 'Europe/London'), '12:00 pm',
          'say_clock: noon is 12:00 pm');
SELECT is(vapi_say_clock('2030-01-15 09:05+00', 'Europe/London'), '9:05 am',
          'say_clock: no leading zero on the hour, minutes kept two-digit');
SELECT is(vapi_say_clock('2030-01-15 23:59+00', 'Europe/London'), '11:59 pm',
          'say_clock: 23:59 is 11:59 pm');
SELECT is(vapi_say_clock('2030-01-15 14:00+00', 'Europe/Berlin'), '3:00 pm',
          'say_clock: the zone given decides (Berlin), not the session''s');
SELECT is(vapi_say_clock('2030-03-31 00:30+00', 'Europe/London'), '12:30 am',
          'say_clock: on the spring-forward day, before the change (GMT)');
SELECT is(vapi_say_clock('2030-03-31 01:30+00', 'Europe/London'), '2:30 am',
          'say_clock: on the spring-forward day, after the change (BST)');
SELECT is(vapi_say_clock('2030-10-27 00:30+00', 'Europe/London'),
          vapi_say_clock('2030-10-27 01:30+00', 'Europe/London'),
          'say_clock: on the fall-back day the repeated hour reads the same twice');
SELECT is(vapi_say_clock('2030-10-27 01:30+00', 'Europe/London'), '1:30 am',
          'say_clock: 01:30Z on the fall-back day is 1:30 am (GMT again)');
SELECT is(vapi_say_clock(NULL, 'Europe/London'), NULL, 'say_clock: NULL gives NULL');

SELECT is(vapi_say_day('2027-07-06'), 'Tuesday 6 July',
          'say_day: "Tuesday 6 July" (no padding of the day, no year)');
SELECT is(vapi_say_day('2031-01-01'), 'Wednesday 1 January',
          'say_day: the longest day name, unpadded');
SELECT is(vapi_say_day('2030-09-30'), 'Monday 30 September',
          'say_day: the longest month name, unpadded');
SELECT is(vapi_say_day('2030-05-11'), 'Saturday 11 May', 'say_day: a short month');

SELECT is(vapi_say_time('2030-01-15 14:00+00', 'Europe/London'), 'Tuesday 15 January at 2:00 pm',
          'say_time: winter');
SELECT is(vapi_say_time('2030-07-15 14:00+00', 'Europe/London'), 'Monday 15 July at 3:00 pm',
          'say_time: summer');
SELECT is(vapi_say_time('2030-07-14 23:30+00', 'Europe/London'), 'Monday 15 July at 12:30 am',
          'say_time: 23:30Z in July is already the next day in London');
SELECT is(vapi_say_time('2030-01-15 04:30+00', 'Europe/Berlin'), 'Tuesday 15 January at 5:30 am',
          'say_time: the day in the zone, whatever the session zone (New York: the 14th)');
SELECT is(vapi_say_time('2030-03-31 01:30+00', 'Europe/London'), 'Sunday 31 March at 2:30 am',
          'say_time: across the spring-forward change');


-- vapi_say_hours -------------------------------------------------------------------
SELECT is(vapi_say_hours(bk_default_working_hours()), 'Monday to Friday from 9:00 am to 5:00 pm',
          'say_hours: the default hours');
SELECT is(vapi_say_hours('{"mon":[["09:00","17:00"]],"tue":[["09:00","17:00"]]}'),
          'Monday and Tuesday from 9:00 am to 5:00 pm',
          'say_hours: two consecutive equal days: "Monday and Tuesday"');
SELECT is(vapi_say_hours('{"wed":[["09:00","12:00"]],"thu":[["09:00","12:00"]]}'),
          'Wednesday and Thursday from 9:00 am to 12:00 pm',
          'say_hours: "Wednesday and Thursday"');
SELECT is(vapi_say_hours('{"mon":[["09:00","12:00"],["13:00","17:00"]]}'),
          'Monday from 9:00 am to 12:00 pm and 1:00 pm to 5:00 pm',
          'say_hours: two windows a day joined with "and"');
SELECT is(vapi_say_hours('{"mon":[["09:00","17:00"]],"wed":[["08:30","12:00"]]}'),
          'Monday from 9:00 am to 5:00 pm; Wednesday from 8:30 am to 12:00 pm',
          'say_hours: separated days: "; "');
SELECT is(vapi_say_hours('{"mon":[["09:00","17:00"]],"tue":[["09:00","17:00"]],'
                         '"thu":[["09:00","17:00"]]}'),
          'Monday and Tuesday from 9:00 am to 5:00 pm; Thursday from 9:00 am to 5:00 pm',
          'say_hours: equal days apart are not grouped across a closed day');
SELECT is(vapi_say_hours('{"mon":[["09:00","17:00"]],"tue":[["10:00","17:00"]],'
                         '"wed":[["10:00","17:00"]],"thu":[["10:00","17:00"]]}'),
          'Monday from 9:00 am to 5:00 pm; Tuesday to Thursday from 10:00 am to 5:00 pm',
          'say_hours: a run of three: "Tuesday to Thursday"');
SELECT is(vapi_say_hours('{"sat":[["10:00","14:00"]],"sun":[["10:00","14:00"]]}'),
          'Saturday and Sunday from 10:00 am to 2:00 pm', 'say_hours: the weekend');
SELECT is(vapi_say_hours('{"sun":[["00:00","04:00"]]}'), 'Sunday from 12:00 am to 4:00 am',
          'say_hours: a window from midnight');
SELECT is(vapi_say_hours('{}'), 'on no day at the moment', 'say_hours: no hours at all');
SELECT is(vapi_say_hours('{"mon":[],"tue":[]}'), 'on no day at the moment',
          'say_hours: only empty days');


-- vapi_offer: the answer's shape, a free time ---------------------------------------
INSERT INTO res VALUES ('free', pg_temp.offer(pg_temp.t(0, '10:00')));
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('free')) ORDER BY 1),
          ARRAY['day', 'horizonDays', 'hours', 'notice', 'offers', 'reason', 'requestedClock',
                'requestedFree'],
          'offer: the answer has exactly {day, horizonDays, hours, notice, offers, reason, '
          'requestedClock, requestedFree}');
SELECT is(pg_temp.r('free') -> 'requestedFree', 'true'::jsonb, 'offer: a free time: requestedFree true');
SELECT is(pg_temp.r('free') -> 'reason', 'null'::jsonb, 'offer: a free time: reason null');
SELECT is(pg_temp.r('free') ->> 'requestedClock', '10:00 am',
          'offer: requestedClock in Berlin time');
SELECT is(pg_temp.r('free') ->> 'day', vapi_say_day(pg_temp.d(0)), 'offer: day is said');
SELECT matches(pg_temp.r('free') ->> 'day', '^Monday [1-9][0-9]? [A-Z][a-z]+$',
               'offer: day is "Monday <d> <Month>"');
SELECT is(pg_temp.r('free') ->> 'hours', 'Monday and Tuesday from 9:00 am to 5:00 pm',
          'offer: hours are the provider''s, said');
SELECT is(pg_temp.r('free') -> 'offers',
          jsonb_build_array(jsonb_build_object('at', bk_iso(pg_temp.t(0, '10:00')),
                                               'clock', '10:00 am')),
          'offer: a free time: exactly that one offer {at (UTC ISO), clock}');
SELECT is(vapi_say_clock(pg_temp.t(0, '10:00'), 'UTC') <> '10:00 am', true,
          'offer: (sanity) Berlin 10:00 is not 10:00 UTC, so the clock really is Berlin''s');

-- A taken time: an appointment 10:00-11:00 on D -------------------------------------
INSERT INTO res VALUES ('b1', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000002', NULL, pg_temp.t(0, '10:00'), 60));
SELECT is(pg_temp.r('b1') ->> 'status', 'booked', 'setup: 10:00-11:00 on D booked');
INSERT INTO res VALUES ('taken', pg_temp.offer(pg_temp.t(0, '10:15')));
SELECT is(pg_temp.r('taken') -> 'requestedFree', 'false'::jsonb,
          'offer: a time inside an appointment: requestedFree false');
SELECT is(pg_temp.r('taken') -> 'reason', 'null'::jsonb, 'offer: taken (not closed): reason null');
SELECT is(pg_temp.r('taken') ->> 'requestedClock', '10:15 am', 'offer: taken: requestedClock');
-- Distances from 10:15: 9:30 and 11:00 (45 min), 9:15 and 11:15 (60): the
-- earlier wins a tie, then the three are said in time order.
SELECT is(pg_temp.clocks(pg_temp.r('taken')), ARRAY['9:15 am', '9:30 am', '11:00 am'],
          'offer: taken: the three nearest, in time order (ties: the earlier)');
SELECT is(ARRAY(SELECT e ->> 'at' FROM jsonb_array_elements(pg_temp.r('taken') -> 'offers') e),
          pg_temp.isos(0, '09:15', '09:30', '11:00'), 'offer: taken: the offers'' instants');
SELECT ok(pg_temp.all_free(pg_temp.r('taken')),
          'offer: taken: every offer passes check_availability, sorted, distinct');
SELECT is(pg_temp.offer(pg_temp.t(0, '10:00')) -> 'requestedFree', 'false'::jsonb,
          'offer: the appointment''s own start: requestedFree false');
SELECT is(pg_temp.offer(pg_temp.t(0, '11:00')) -> 'requestedFree', 'true'::jsonb,
          'offer: where the appointment ends: free');
SELECT is(pg_temp.offer(pg_temp.t(0, '09:30')) -> 'requestedFree', 'true'::jsonb,
          'offer: ending where the appointment starts: free');
-- Buffers: 15 minutes after make 9:30 run into 10:00; 15 before make 11:00 do.
INSERT INTO res VALUES ('after', pg_temp.offer(pg_temp.t(0, '09:30'), p_after => 15));
SELECT is(pg_temp.r('after') -> 'requestedFree', 'false'::jsonb,
          'offer: 9:30 + 30 + 15 after runs into 10:00: not free');
SELECT is(pg_temp.clocks(pg_temp.r('after')), ARRAY['9:00 am', '9:15 am', '11:00 am'],
          'offer: buffer after: the nearest that fit with the buffer');
SELECT ok(pg_temp.all_free(pg_temp.r('after'), 30, 0, 15),
          'offer: buffer after: every offer passes check_availability with the buffer');
SELECT is(pg_temp.offer(pg_temp.t(0, '11:00'), p_before => 15) -> 'requestedFree', 'false'::jsonb,
          'offer: 11:00 with 15 before reaches into the appointment: not free');
SELECT is(pg_temp.offer(pg_temp.t(0, '11:15'), p_before => 15) -> 'requestedFree', 'true'::jsonb,
          'offer: 11:15 with 15 before touches it: free');
-- Off the 15-minute grid: never "free" (free_slots' grid), the nearest instead.
INSERT INTO res VALUES ('offgrid', pg_temp.offer(pg_temp.t(0, '14:05')));
SELECT is(pg_temp.r('offgrid') -> 'requestedFree', 'false'::jsonb,
          'offer: a time off the 15-minute grid is not offered as such');
SELECT is(pg_temp.clocks(pg_temp.r('offgrid')), ARRAY['1:45 pm', '2:00 pm', '2:15 pm'],
          'offer: off the grid: the grid times nearest it');
SELECT is(pg_temp.clocks(pg_temp.offer(pg_temp.t(0, '10:15'), p_limit => 5)),
          ARRAY['9:00 am', '9:15 am', '9:30 am', '11:00 am', '11:15 am'],
          'offer: p_limit 5: five offers');
SELECT is(pg_temp.clocks(pg_temp.offer(pg_temp.t(0, '10:15'), p_limit => 1)),
          ARRAY['9:30 am'], 'offer: p_limit 1: the nearest alone');

-- A taken time: an unexpired hold 14:00-14:30 on D+1 --------------------------------
INSERT INTO res VALUES ('h1', jsonb_build_object('id',
    pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', pg_temp.t(1, '14:00'), 30)));
SELECT is((SELECT status::text FROM appointments
            WHERE id = (pg_temp.r('h1') ->> 'id')::uuid AND expires_at > clock_timestamp()),
          'held', 'setup: a live hold 14:00-14:30 on D+1');
INSERT INTO res VALUES ('held', pg_temp.offer(pg_temp.t(1, '14:00')));
SELECT is(pg_temp.r('held') -> 'requestedFree', 'false'::jsonb,
          'offer: a time under an unexpired hold: requestedFree false');
SELECT is(pg_temp.clocks(pg_temp.r('held')), ARRAY['1:15 pm', '1:30 pm', '2:30 pm'],
          'offer: held: the three nearest, in time order');
SELECT ok(pg_temp.all_free(pg_temp.r('held')), 'offer: held: every offer passes check_availability');
SELECT is(pg_temp.offer(pg_temp.t(1, '13:45')) -> 'requestedFree', 'false'::jsonb,
          'offer: overlapping the hold''s start: not free');
-- An expired hold does not count.
INSERT INTO res VALUES ('h2', jsonb_build_object('id',
    pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', pg_temp.t(1, '16:00'), 30)));
CALL pg_temp.expire((pg_temp.r('h2') ->> 'id')::uuid);
SELECT is(pg_temp.offer(pg_temp.t(1, '16:00')) -> 'requestedFree', 'true'::jsonb,
          'offer: under an expired hold: free');
-- Another provider's appointment does not count.
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000009',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       pg_temp.t(1, '11:00'), 60) ->> 'status', 'booked',
          'setup: Dr Third booked 11:00-12:00 on D+1');
SELECT is(pg_temp.offer(pg_temp.t(1, '11:00')) -> 'requestedFree', 'true'::jsonb,
          'offer: another provider''s appointment does not take Dr Default''s time');
SELECT is(pg_temp.offer(pg_temp.t(1, '11:00'),
                        p_provider => 'aaaaaaaa-0000-4000-8000-000000000009') -> 'requestedFree',
          'false'::jsonb, 'offer: Dr Third at 11:00: taken');

-- Date only ------------------------------------------------------------------------
INSERT INTO res VALUES ('date', pg_temp.offer(NULL, pg_temp.d(7)));
SELECT is(pg_temp.r('date') -> 'requestedFree', 'false'::jsonb, 'offer: date only: requestedFree false');
SELECT is(pg_temp.r('date') -> 'requestedClock', 'null'::jsonb,
          'offer: date only: requestedClock null');
SELECT is(pg_temp.r('date') -> 'reason', 'null'::jsonb, 'offer: date only: reason null');
SELECT is(pg_temp.r('date') ->> 'day', vapi_say_day(pg_temp.d(7)), 'offer: date only: that day');
SELECT is(pg_temp.clocks(pg_temp.r('date')), ARRAY['9:00 am', '9:15 am', '9:30 am'],
          'offer: date only: the day''s first three');
SELECT is(ARRAY(SELECT e ->> 'at' FROM jsonb_array_elements(pg_temp.r('date') -> 'offers') e),
          pg_temp.isos(7, '09:00', '09:15', '09:30'), 'offer: date only: their instants');
SELECT is(pg_temp.clocks(pg_temp.offer(NULL, pg_temp.d(1))), ARRAY['9:00 am', '9:15 am', '9:30 am'],
          'offer: date only, a day with a hold later on: the first three');
SELECT is(pg_temp.clocks(pg_temp.offer(NULL, pg_temp.d(0), p_duration => 60, p_limit => 4)),
          ARRAY['9:00 am', '11:00 am', '11:15 am', '11:30 am'],
          'offer: date only, 60 minutes: the first four that fit around 10:00-11:00');
SELECT is(pg_temp.offer(NULL, pg_temp.d(2)) -> 'offers', '[]'::jsonb,
          'offer: date only, a closed day (Wednesday): no offers');
SELECT is(pg_temp.offer(NULL, pg_temp.d(2)) -> 'reason', 'null'::jsonb,
          'offer: date only, a closed day: reason null (the hours are said instead)');

-- Past ------------------------------------------------------------------------------
SELECT is(pg_temp.offer(now() - interval '1 hour') ->> 'reason', 'past',
          'offer: an hour ago: reason past');
SELECT is(pg_temp.offer(now() - interval '1 hour') -> 'requestedFree', 'false'::jsonb,
          'offer: an hour ago: not free');
SELECT is(pg_temp.offer(pg_temp.t(-28, '10:00')) ->> 'reason', 'past',
          'offer: a Monday weeks ago, inside hours: reason past');
SELECT is(pg_temp.offer(pg_temp.t(-28, '10:00')) -> 'offers', '[]'::jsonb,
          'offer: a past day: no offers');
SELECT is(pg_temp.offer(NULL, (now() AT TIME ZONE 'Europe/Berlin')::date - 1) ->> 'reason', 'past',
          'offer: date only, yesterday: reason past');
SELECT is(pg_temp.offer(NULL, (now() AT TIME ZONE 'Europe/Berlin')::date) -> 'reason', 'null'::jsonb,
          'offer: date only, today: not past');
SELECT is(pg_temp.offer(pg_temp.t(-28, '18:00')) ->> 'reason', 'past',
          'offer: past and outside hours: past wins');

-- Outside hours -----------------------------------------------------------------------
INSERT INTO res VALUES ('closed', pg_temp.offer(pg_temp.t(7, '18:00')));
SELECT is(pg_temp.r('closed') ->> 'reason', 'closed', 'offer: 18:00: reason closed');
SELECT is(pg_temp.r('closed') -> 'requestedFree', 'false'::jsonb, 'offer: 18:00: not free');
SELECT is(pg_temp.clocks(pg_temp.r('closed')), ARRAY['4:00 pm', '4:15 pm', '4:30 pm'],
          'offer: 18:00: the nearest of that day (the last three)');
SELECT ok(pg_temp.all_free(pg_temp.r('closed')), 'offer: closed: every offer passes check_availability');
SELECT is(pg_temp.offer(pg_temp.t(7, '16:45')) ->> 'reason', 'closed',
          'offer: 16:45 for 30 minutes runs past 17:00: closed');
SELECT is(pg_temp.offer(pg_temp.t(7, '16:30')) -> 'reason', 'null'::jsonb,
          'offer: 16:30 for 30 minutes ends at 17:00: not closed');
SELECT is(pg_temp.clocks(pg_temp.offer(pg_temp.t(7, '07:00'))), ARRAY['9:00 am', '9:15 am', '9:30 am'],
          'offer: 07:00: closed, the morning''s first three');
INSERT INTO res VALUES ('wed', pg_temp.offer(pg_temp.t(2, '10:00')));
SELECT is(pg_temp.r('wed') ->> 'reason', 'closed', 'offer: a Wednesday (not worked): closed');
SELECT is(pg_temp.r('wed') -> 'offers', '[]'::jsonb, 'offer: a Wednesday: no offers that day');

-- Errors ------------------------------------------------------------------------------
SELECT is(pg_temp.err($$ SELECT pg_temp.offer(pg_temp.t(0, '10:00'),
                              p_provider => 'eeeeeeee-0000-4000-8000-000000000000') $$),
          'BK001 providerId', 'offer: an unknown provider: BK001 naming providerId');
SELECT is(pg_temp.err($$ SELECT pg_temp.offer(pg_temp.t(0, '10:00'),
                              p_provider => 'aaaaaaaa-0000-4000-8000-000000000003') $$),
          'BK001 providerId', 'offer: another organization''s provider: BK001 naming providerId');
SELECT is(pg_temp.err($$ SELECT pg_temp.offer(NULL, NULL) $$), 'BK001 date',
          'offer: neither a time nor a date: BK001 naming date');

-- Daylight saving (London, Sunday nights 00:00-04:00) ----------------------------------
-- Next year's last Sundays of March and October.
CREATE FUNCTION pg_temp.last_sunday(m int) RETURNS date LANGUAGE sql STABLE AS $$
SELECT d - extract(dow FROM d)::int
  FROM (SELECT (make_date(extract(year FROM now())::int + 1, m, 1) + interval '1 month'
                - interval '1 day')::date AS d) x $$;
INSERT INTO res VALUES ('spring', pg_temp.offer(NULL, pg_temp.last_sunday(3), p_limit => 100,
    p_provider => 'aaaaaaaa-0000-4000-8000-000000000033',
    p_org => '33333333-3333-4333-8333-333333333333'));
SELECT is(pg_temp.clocks(pg_temp.r('spring')),
          ARRAY['12:00 am', '12:15 am', '12:30 am', '12:45 am', '2:00 am', '2:15 am', '2:30 am',
                '2:45 am', '3:00 am', '3:15 am', '3:30 am'],
          'offer: spring forward: the hour from 1:00 am does not exist and is skipped');
SELECT is((SELECT count(DISTINCT x)::int FROM unnest(pg_temp.ats(pg_temp.r('spring'))) x), 11,
          'offer: spring forward: eleven distinct instants');
SELECT is((pg_temp.ats(pg_temp.r('spring')))[5] - (pg_temp.ats(pg_temp.r('spring')))[4],
          interval '15 minutes', 'offer: spring forward: 12:45 am GMT to 2:00 am BST is 15 minutes');
INSERT INTO res VALUES ('autumn', pg_temp.offer(NULL, pg_temp.last_sunday(10), p_limit => 100,
    p_provider => 'aaaaaaaa-0000-4000-8000-000000000033',
    p_org => '33333333-3333-4333-8333-333333333333'));
SELECT is((SELECT count(*)::int FROM unnest(pg_temp.clocks(pg_temp.r('autumn'))) c
            WHERE c = '1:30 am'), 2,
          'offer: fall back: 1:30 am happens twice and is offered at both instants');
SELECT is((SELECT count(DISTINCT x)::int FROM unnest(pg_temp.ats(pg_temp.r('autumn'))) x),
          jsonb_array_length(pg_temp.r('autumn') -> 'offers'),
          'offer: fall back: no instant is offered twice');
-- A time asked for on those days is said in London time, before and after the change.
CREATE FUNCTION pg_temp.london(p_at timestamptz) RETURNS jsonb LANGUAGE sql AS $$
SELECT pg_temp.offer(p_at, p_provider => 'aaaaaaaa-0000-4000-8000-000000000033',
                     p_org => '33333333-3333-4333-8333-333333333333') $$;
SELECT is(ARRAY[pg_temp.london((pg_temp.last_sunday(3) + time '00:45') AT TIME ZONE 'UTC') ->> 'requestedClock',
                pg_temp.london((pg_temp.last_sunday(3) + time '01:00') AT TIME ZONE 'UTC') ->> 'requestedClock'],
          ARRAY['12:45 am', '2:00 am'],
          'offer: spring forward: 00:45Z is 12:45 am (GMT), 01:00Z is 2:00 am (BST)');
SELECT is(ARRAY[(pg_temp.london((pg_temp.last_sunday(10) + time '00:30') AT TIME ZONE 'UTC') ->> 'requestedFree')::boolean,
                (pg_temp.london((pg_temp.last_sunday(10) + time '01:30') AT TIME ZONE 'UTC') ->> 'requestedFree')::boolean],
          ARRAY[true, true], 'offer: fall back: both 1:30 am instants are free when asked for');
SELECT matches(pg_temp.london((pg_temp.last_sunday(3) + time '01:00') AT TIME ZONE 'UTC') ->> 'day',
               '^Sunday (2[5-9]|3[01]) March$', 'offer: spring forward: the day is "Sunday <d> March"');


-- vapi_contact ------------------------------------------------------------------------
SELECT is(vapi_contact('11111111-1111-4111-8111-111111111111', 'Someone Else', '+15550001111',
                       NULL, 'vapi'),
          'cccccccc-0000-4000-8000-000000000001'::uuid,
          'contact: an existing phone finds that contact (Alice)');
-- An older contact with the same phone is the one found.
INSERT INTO contacts (id, org_id, name, phone, created_at) VALUES
    ('cccccccc-0000-4000-8000-000000000011', '11111111-1111-4111-8111-111111111111',
     'Alice Older', '+15550001111', now() - interval '30 days');
INSERT INTO snap VALUES ('before-contact', pg_temp.totals() || ' contacts='
                                           || (SELECT count(*) FROM contacts));
SELECT is(vapi_contact('11111111-1111-4111-8111-111111111111', 'Alice', '+15550001111',
                       'a@example.test', 'vapi'),
          'cccccccc-0000-4000-8000-000000000011'::uuid,
          'contact: of two with the phone, the oldest is found');
SELECT is(pg_temp.totals() || ' contacts=' || (SELECT count(*) FROM contacts),
          (SELECT v FROM snap WHERE k = 'before-contact'),
          'contact: finding writes nothing (no contact, no audit row)');
-- An erased contact with the phone still on it (erasure clears it; this
-- row is made by hand) never matches.
INSERT INTO contacts (id, org_id, name, phone, erased_at) VALUES
    ('cccccccc-0000-4000-8000-000000000012', '11111111-1111-4111-8111-111111111111',
     NULL, '+15550009999', now() - interval '1 day');
INSERT INTO res VALUES ('dave', to_jsonb(vapi_contact('11111111-1111-4111-8111-111111111111',
    'Dave Pgtapson', '+15550009999', NULL, 'vapi:pgtap')));
SELECT isnt((pg_temp.r('dave') #>> '{}')::uuid, 'cccccccc-0000-4000-8000-000000000012'::uuid,
            'contact: an erased contact with the phone is not matched');
SELECT results_eq($$
    SELECT org_id, name, phone, email, erased_at FROM contacts
     WHERE id = (pg_temp.r('dave') #>> '{}')::uuid
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'Dave Pgtapson', '+15550009999',
            NULL::text, NULL::timestamptz)
    $$, 'contact: a new contact with the name and phone given');
SELECT results_eq($$
    SELECT org_id, actor, action, entity_type::text, details FROM audit_logs
     WHERE entity_id = (pg_temp.r('dave') #>> '{}')::uuid
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'vapi:pgtap', 'contact.created',
            'contact', '{"hasPhone": true, "hasEmail": false}'::jsonb)
    $$, 'contact: created with one contact.created audit row (no personal data)');
SELECT is(vapi_contact('11111111-1111-4111-8111-111111111111', 'Dave Again', '+15550009999',
                       NULL, 'vapi'),
          (pg_temp.r('dave') #>> '{}')::uuid, 'contact: the next call finds the new contact');
-- Another organization's contact with the phone (Carol, org2) is not matched.
SELECT isnt(vapi_contact('11111111-1111-4111-8111-111111111111', 'Carol Here', '+15550004444',
                         NULL, 'vapi'),
            'cccccccc-0000-4000-8000-000000000004'::uuid,
            'contact: another organization''s contact is never matched');
SELECT is((SELECT count(*)::int FROM contacts WHERE phone = '+15550004444'
              AND org_id = '11111111-1111-4111-8111-111111111111'), 1,
          'contact: a contact was made in org1 for that phone');
SELECT is(pg_temp.err($$ SELECT vapi_contact('11111111-1111-4111-8111-111111111111', '  ',
                                             '+15550008888', NULL, 'vapi') $$),
          'BK001 name', 'contact: a blank name for a new contact: BK001 naming name');
SELECT is(pg_temp.err($$ SELECT vapi_contact('11111111-1111-4111-8111-111111111111', NULL,
                                             '+15550008888', NULL, 'vapi') $$),
          'BK001 name', 'contact: no name for a new contact: BK001 naming name');
SELECT is((SELECT count(*)::int FROM contacts WHERE phone = '+15550008888'), 0,
          'contact: refused: nothing made');


-- vapi_find_appointments ----------------------------------------------------------------
-- At T (10:00 Berlin on D+8, a Tuesday): Alice (Dr Default) and Alice Older
-- (Dr Third) confirmed; Bob (Dr Second) confirmed; an earlier booking of
-- Alice at T cancelled; Alice also at T + 1 h; in org2 a contact with
-- Alice's phone at T.
INSERT INTO res VALUES ('f0', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, pg_temp.t(8, '10:00'), 30));
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('f0'), NULL, 2000,
                             'admin_key:pgtap') -> 'appointment' ->> 'status', 'cancelled',
          'setup: Alice''s first booking at T cancelled');
INSERT INTO res VALUES ('f1', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, pg_temp.t(8, '10:00'), 30));
INSERT INTO res VALUES ('f2', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000009',
    'cccccccc-0000-4000-8000-000000000011', NULL, pg_temp.t(8, '10:00'), 45));
INSERT INTO res VALUES ('f3', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
    'cccccccc-0000-4000-8000-000000000002', NULL, pg_temp.t(8, '10:00'), 30));
INSERT INTO res VALUES ('f4', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, pg_temp.t(8, '11:00'), 30));
INSERT INTO contacts (id, org_id, name, phone) VALUES
    ('cccccccc-0000-4000-8000-000000000021', '22222222-2222-4222-8222-222222222222',
     'Alice Elsewhere', '+15550001111');
INSERT INTO res VALUES ('f5', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000003',
    'cccccccc-0000-4000-8000-000000000021', NULL, pg_temp.t(8, '10:00'), 30,
    p_org => '22222222-2222-4222-8222-222222222222'));
SELECT is(ARRAY(SELECT pg_temp.r(k) ->> 'status' FROM unnest(ARRAY['f1', 'f2', 'f3', 'f4', 'f5']) k),
          ARRAY['booked', 'booked', 'booked', 'booked', 'booked'], 'setup: the bookings');
SELECT is(vapi_find_appointments('11111111-1111-4111-8111-111111111111', '+15550001111',
                                 pg_temp.t(8, '10:00')),
          ARRAY(SELECT x FROM unnest(ARRAY[pg_temp.aid('f1'), pg_temp.aid('f2')]) x ORDER BY x),
          'find: the confirmed ones of every contact with the phone at exactly T (sorted by id)');
SELECT ok(NOT pg_temp.aid('f0') = ANY (vapi_find_appointments(
              '11111111-1111-4111-8111-111111111111', '+15550001111', pg_temp.t(8, '10:00'))),
          'find: not the cancelled one');
SELECT is(vapi_find_appointments('11111111-1111-4111-8111-111111111111', '+15550002222',
                                 pg_temp.t(8, '10:00')),
          ARRAY[pg_temp.aid('f3')], 'find: another phone finds its own');
SELECT is(vapi_find_appointments('22222222-2222-4222-8222-222222222222', '+15550001111',
                                 pg_temp.t(8, '10:00')),
          ARRAY[pg_temp.aid('f5')], 'find: the other organization finds only its own');
SELECT is(vapi_find_appointments('11111111-1111-4111-8111-111111111111', '+15550001111',
                                 pg_temp.t(8, '10:00') + interval '1 minute'),
          '{}'::uuid[], 'find: a minute later: none (an empty array, not NULL)');
SELECT is(vapi_find_appointments('11111111-1111-4111-8111-111111111111', '+15550001111',
                                 pg_temp.t(8, '11:00')),
          ARRAY[pg_temp.aid('f4')], 'find: at T + 1 h: that one');
SELECT is(vapi_find_appointments('11111111-1111-4111-8111-111111111111', '+15550007777',
                                 pg_temp.t(8, '10:00')),
          '{}'::uuid[], 'find: an unknown phone: none');
-- A contact erased after booking (phone left on the row by hand) is not found.
UPDATE contacts SET erased_at = now() WHERE id = 'cccccccc-0000-4000-8000-000000000011';
SELECT is(vapi_find_appointments('11111111-1111-4111-8111-111111111111', '+15550001111',
                                 pg_temp.t(8, '10:00')),
          ARRAY[pg_temp.aid('f1')], 'find: an erased contact''s appointment is not found');
UPDATE contacts SET erased_at = NULL WHERE id = 'cccccccc-0000-4000-8000-000000000011';


-- vapi_record_call ------------------------------------------------------------------------
-- The void functions, called through procedures so that CALL prints nothing.
CREATE PROCEDURE pg_temp.rec(p_org uuid, p_call text, p_status text, p_started timestamptz,
                             p_ended timestamptz, p_reason text) LANGUAGE sql AS $$
SELECT public.vapi_record_call(p_org, p_call, p_status, p_started, p_ended, p_reason) $$;
CREATE FUNCTION pg_temp.call(p_call text, p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111')
RETURNS text LANGUAGE sql AS $$
SELECT format('%s|%s|%s|%s', status, bk_iso(started_at), bk_iso(ended_at), ended_reason)
  FROM vapi_calls WHERE org_id = p_org AND call_id = p_call $$;
SELECT lives_ok($$ SELECT vapi_record_call('11111111-1111-4111-8111-111111111111', 'call-1',
                                           'in-progress', '2030-01-07 09:00:00+00', NULL, NULL) $$,
                'record: a first status-update inserts');
SELECT is(pg_temp.call('call-1'), 'in-progress|2030-01-07T09:00:00.000Z||',
          'record: status and start stored, no end');
SELECT is((SELECT updated_at FROM vapi_calls WHERE call_id = 'call-1'), now(),
          'record: updated_at is the transaction time');
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-1', 'in-progress',
                        '2030-01-07 09:00:05+00', NULL, NULL);
SELECT is(pg_temp.call('call-1'), 'in-progress|2030-01-07T09:00:00.000Z||',
          'record: a later start does not replace the first started_at');
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-1', 'ended',
                        NULL, '2030-01-07 09:05:00+00', 'customer-ended-call');
SELECT is(pg_temp.call('call-1'),
          'ended|2030-01-07T09:00:00.000Z|2030-01-07T09:05:00.000Z|customer-ended-call',
          'record: ended: status, ended_at and ended_reason taken; started_at kept');
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-1', 'in-progress',
                        NULL, NULL, NULL);
SELECT is(pg_temp.call('call-1'),
          'ended|2030-01-07T09:00:00.000Z|2030-01-07T09:05:00.000Z|customer-ended-call',
          'record: a late in-progress after ended changes nothing');
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-1', 'ended',
                        '2030-01-07 08:59:58+00', '2030-01-07 09:05:02+00', 'assistant-ended-call');
SELECT is(pg_temp.call('call-1'),
          'ended|2030-01-07T09:00:00.000Z|2030-01-07T09:05:02.000Z|assistant-ended-call',
          'record: the end-of-call-report''s later ended_at and reason are taken, started_at kept');
CALL pg_temp.rec('22222222-2222-4222-8222-222222222222', 'call-1', 'ringing', NULL, NULL, NULL);
SELECT is(pg_temp.call('call-1', '22222222-2222-4222-8222-222222222222'), 'ringing|||',
          'record: the same call id in another organization is a call of its own');
SELECT is(pg_temp.call('call-1'),
          'ended|2030-01-07T09:00:00.000Z|2030-01-07T09:05:02.000Z|assistant-ended-call',
          'record: ... and leaves org1''s call alone');
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-3', 'ended',
                        NULL, '2030-01-07 10:00:00+00', 'silence-timed-out');
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-3', 'ended',
                        '2030-01-07 09:58:00+00', NULL, NULL);
SELECT is(pg_temp.call('call-3'), 'ended|2030-01-07T09:58:00.000Z|2030-01-07T10:00:00.000Z|silence-timed-out',
          'record: a report without end or reason keeps the known ones and fills the start');


-- vapi_book: bookAppointment in one transaction ----------------------------------------------
-- pg_temp.vbook books through vapi_book for org1 with Dr Default unless told,
-- with correct lock bounds (the service's buffers included), as the C side
-- computes them; the expired-holds count starts afresh, as in a transaction
-- of its own.
CREATE FUNCTION pg_temp.vbook(p_call text, p_tc text, p_phone text, p_at timestamptz,
                              p_duration int DEFAULT 30, p_name text DEFAULT 'Erin Pgtapson',
                              p_service uuid DEFAULT NULL, p_email text DEFAULT NULL,
                              p_notes text DEFAULT NULL,
                              p_provider uuid DEFAULT 'aaaaaaaa-0000-4000-8000-000000000001',
                              p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111',
                              p_secret bytea DEFAULT NULL)
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
    v_to := pg_temp.ceil15(p_at + make_interval(mins => coalesce(p_duration, v_dur, 30)
                                                      + coalesce(v_after, 0)));
    PERFORM set_config('bk.expired_holds', '', true);
    RETURN public.vapi_book(p_org, p_call, p_tc, p_name, p_phone, p_email, p_notes, p_provider,
                            p_service, p_at, p_duration, pg_temp.keys(v_from, v_to), v_from,
                            v_to, 2000, (SELECT timezone FROM public.organizations WHERE id = p_org),
                            p_secret);
END
$$;
-- The appointment an answer of org1 names.
CREATE FUNCTION pg_temp.vaid(p_tc text, p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111')
RETURNS uuid LANGUAGE sql AS $$
SELECT appointment_id FROM public.vapi_tool_results WHERE org_id = p_org AND tool_call_id = p_tc $$;
-- Everything vapi_book may write: pg_temp.totals() and contacts, answers, call holds.
CREATE FUNCTION pg_temp.written() RETURNS text LANGUAGE sql AS $$
SELECT pg_temp.totals() || format(' contacts=%s answers=%s call_holds=%s',
                                  (SELECT count(*) FROM public.contacts),
                                  (SELECT count(*) FROM public.vapi_tool_results),
                                  (SELECT count(*) FROM public.vapi_call_holds)) $$;
-- A hold of Dr Default that call p_call keeps, as checkAvailability leaves it.
CREATE FUNCTION pg_temp.call_hold(p_call text, p_at timestamptz, p_duration int DEFAULT 30)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    v_id uuid := pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', p_at, p_duration);
BEGIN
    INSERT INTO public.vapi_call_holds (org_id, call_id, hold_id, scheduled_at)
    VALUES ('11111111-1111-4111-8111-111111111111', p_call, v_id, p_at);
    RETURN v_id;
END
$$;

-- D+14 (a Monday) and D+15 (a Tuesday) are empty days; a new caller.
INSERT INTO res VALUES ('vb1', pg_temp.vbook('call-b1', 'tc-b1', '+15550005001',
    pg_temp.t(14, '10:00'), p_email => 'erin@example.test', p_notes => 'pgtap: first visit'));
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('vb1')) ORDER BY 1),
          ARRAY['answer', 'expiredHolds', 'holdConverted', 'isError'],
          'book: the answer has exactly {answer, expiredHolds, holdConverted, isError}');
SELECT is(pg_temp.r('vb1') ->> 'answer',
          'Booked for ' || vapi_say_time(pg_temp.t(14, '10:00'), 'Europe/Berlin') || '.',
          'book: "Booked for <the time>." in the organization''s zone');
SELECT matches(pg_temp.r('vb1') ->> 'answer', '^Booked for Monday [1-9][0-9]? [A-Z][a-z]+ at 10:00 am\.$',
               'book: ... "Monday <d> <Month> at 10:00 am" (Berlin, not the session''s zone)');
SELECT is(pg_temp.r('vb1') - 'answer',
          '{"isError": false, "expiredHolds": null, "holdConverted": null}'::jsonb,
          'book: isError false, no hold converted, none expired; not "replayed"');
SELECT results_eq($$
    SELECT r.is_error, r.answer, r.call_id::text, a.org_id, a.provider_id, a.scheduled_at,
           a.duration_minutes::int, a.status::text, a.notes::text
      FROM vapi_tool_results r JOIN appointments a ON a.id = r.appointment_id
     WHERE r.org_id = '11111111-1111-4111-8111-111111111111' AND r.tool_call_id = 'tc-b1'
    $$, $$
    VALUES (false, pg_temp.r('vb1') ->> 'answer', 'call-b1',
            '11111111-1111-4111-8111-111111111111'::uuid,
            'aaaaaaaa-0000-4000-8000-000000000001'::uuid, pg_temp.t(14, '10:00'), 30,
            'confirmed', 'pgtap: first visit')
    $$, 'book: the answer is stored with the call id and the appointment booked (confirmed, '
        '30 minutes, Dr Default, the notes)');
SELECT results_eq($$
    SELECT c.org_id, c.name, c.phone, c.email FROM contacts c
      JOIN appointments a ON a.contact_id = c.id WHERE a.id = pg_temp.vaid('tc-b1')
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'Erin Pgtapson', '+15550005001',
            'erin@example.test')
    $$, 'book: a new caller''s contact is made with the name, phone and e-mail given');
SELECT is(ARRAY(SELECT l.action || ' by ' || l.actor FROM audit_logs l
                 WHERE l.entity_id IN (pg_temp.vaid('tc-b1'),
                                       (SELECT contact_id FROM appointments
                                         WHERE id = pg_temp.vaid('tc-b1')))
                 ORDER BY l.action),
          ARRAY['appointment.booked by vapi', 'contact.created by vapi'],
          'book: audited as contact.created and appointment.booked by vapi');
SELECT is((SELECT count(*)::int FROM outbox_events
            WHERE entity_id = pg_temp.vaid('tc-b1') AND event_type = 'appointment.booked'), 1,
          'book: one appointment.booked event');

-- A retry of the tool call: BK004 (the caller reads the stored answer),
-- nothing booked.
INSERT INTO snap VALUES ('after-vb1', pg_temp.written());
-- The Vapi secret checked first, when given (a secret bookd took from its
-- cache): another organization's, or one a rotation replaced, books
-- nothing and is told apart from every other refusal (BK007).
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-s1', 'tc-s1', '+15550005011',
                                              pg_temp.t(14, '12:00'),
                                              p_secret => '\x00'::bytea) $$),
          'BK007', 'book: a secret that is no organization''s: BK007');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-s1', 'tc-s1', '+15550005011',
                                              pg_temp.t(14, '12:00'),
                                              p_secret => (SELECT vapi_secret_hash FROM organizations
                                                            WHERE id = '22222222-2222-4222-8222-222222222222')) $$),
          'BK007', 'book: another organization''s secret: BK007');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-b1', 'tc-b1', '+15550005001',
                                              pg_temp.t(14, '10:00'), p_secret => '\x00'::bytea) $$),
          'BK007', 'book: ... checked before anything else (a retry, its time taken, is BK007 too)');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'after-vb1'),
          'book: a refused secret writes nothing (appointment, contact, answer, audit, event)');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-b1', 'tc-b1', '+15550005001',
                                              pg_temp.t(14, '10:00'),
                                              p_secret => (SELECT vapi_secret_hash FROM organizations
                                                            WHERE id = '11111111-1111-4111-8111-111111111111')) $$),
          'BK004', 'book: the organization''s own secret passes the check (then: a retry, BK004)');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-b1', 'tc-b1', '+15550005001',
                                              pg_temp.t(14, '10:00')) $$),
          'BK004', 'book: the same tool call id again: BK004, its time being its own');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-b9', 'tc-b1', '+15550005009',
                                              pg_temp.t(14, '14:00'), 60) $$),
          'BK004', 'book: ... whatever the arguments (another call, phone, a free time, length)');
SELECT is(vapi_answer('11111111-1111-4111-8111-111111111111', 'tc-b1'),
          jsonb_build_object('answer', pg_temp.r('vb1') ->> 'answer', 'isError', false,
                             'replayed', true),
          'book: ... and the answer stored is the first one');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'after-vb1'),
          'book: a replay writes nothing (appointment, contact, answer, audit, event)');
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.vaid('tc-b1'), NULL,
                             2000, 'admin_key:pgtap') -> 'appointment' ->> 'status', 'cancelled',
          'setup: the booked appointment cancelled');
INSERT INTO snap VALUES ('after-cancel-b1', pg_temp.written());
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-b1', 'tc-b1', '+15550005001',
                                              pg_temp.t(14, '10:00')) $$),
          'BK004', 'book: cancelled meanwhile: the retry is still a retry (BK004)');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'after-cancel-b1'),
          'book: ... and books the freed time no second time');
-- Answers are the organization's: the same tool call id in London is a call
-- of its own (Dr Night, 3:00 am on a Sunday), here without a call id.
INSERT INTO res VALUES ('vb3', pg_temp.vbook(NULL, 'tc-b1', '+15550005001',
    (pg_temp.d(6) + time '03:00') AT TIME ZONE 'Europe/London',
    p_provider => 'aaaaaaaa-0000-4000-8000-000000000033',
    p_org => '33333333-3333-4333-8333-333333333333'));
SELECT is(pg_temp.r('vb3') ->> 'answer',
          'Booked for ' || vapi_say_day(pg_temp.d(6)) || ' at 3:00 am.',
          'book: the same tool call id in another organization books there, said in its zone');
SELECT results_eq($$
    SELECT r.call_id::text, a.org_id, c.org_id FROM vapi_tool_results r
      JOIN appointments a ON a.id = r.appointment_id JOIN contacts c ON c.id = a.contact_id
     WHERE r.org_id = '33333333-3333-4333-8333-333333333333' AND r.tool_call_id = 'tc-b1'
    $$, $$
    VALUES (NULL::text, '33333333-3333-4333-8333-333333333333'::uuid,
            '33333333-3333-4333-8333-333333333333'::uuid)
    $$, 'book: ... with a contact of its own; without a call id the answer has none');

-- A known phone: that contact, whatever name is said. A service: its length and buffers.
INSERT INTO snap VALUES ('before-vb2', (SELECT count(*) FROM contacts)::text);
INSERT INTO res VALUES ('vb2', pg_temp.vbook('call-b2', 'tc-b2', '+15550002222',
    pg_temp.t(14, '11:00'), 60, p_name => 'Robert Someone Else'));
SELECT is((SELECT contact_id FROM appointments WHERE id = pg_temp.vaid('tc-b2')),
          'cccccccc-0000-4000-8000-000000000002'::uuid,
          'book: a known phone books for that contact (Bob), whatever name is said');
SELECT is((SELECT count(*) FROM contacts)::text, (SELECT v FROM snap WHERE k = 'before-vb2'),
          'book: ... and makes no contact');
INSERT INTO res VALUES ('vb4', pg_temp.vbook('call-b2', 'tc-b4', '+15550002222',
    pg_temp.t(14, '13:00'), NULL, p_service => 'dddddddd-0000-4000-8000-000000000001'));
SELECT results_eq($$
    SELECT service_id, duration_minutes::int, buffer_after_minutes::int, status::text
      FROM appointments
     WHERE id = pg_temp.vaid('tc-b4')
    $$, $$
    VALUES ('dddddddd-0000-4000-8000-000000000001'::uuid, 30, 15, 'confirmed')
    $$, 'book: a service without a length: the service''s length and buffer');

-- Refused bookings leave nothing behind: no appointment, no answer, and no
-- contact either, not even for a new caller.
INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer)
VALUES ('11111111-1111-4111-8111-111111111111', 'tc-said-error', true, 'Please give a name.');
INSERT INTO snap VALUES ('before-refused', pg_temp.written());
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-t', 'tc-taken', '+15550005003',
                                              pg_temp.t(14, '11:30')) $$),
          '23P01', 'book: a taken time (inside Bob''s 11:00-12:00): 23P01');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-t', 'tc-taken', '+15550005003',
                                              pg_temp.t(14, '13:30'), 30) $$),
          '23P01', 'book: starting inside the 15-minute buffer after the Cleaning at 1:00 pm: 23P01');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-p', 'tc-past', '+15550005004',
                                              now() - interval '1 hour') $$),
          'BK001 scheduledAt', 'book: the past: BK001 naming scheduledAt (the public rules)');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-p', 'tc-closed', '+15550005004',
                                              pg_temp.t(14, '18:00')) $$),
          'BK001 scheduledAt', 'book: outside working hours: BK001 naming scheduledAt');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-p', 'tc-closed', '+15550005004',
                                              pg_temp.t(14, '16:45'), 30) $$),
          'BK001 scheduledAt', 'book: running past closing time: BK001 naming scheduledAt');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-p', 'tc-other', '+15550005004',
                                              pg_temp.t(14, '15:00'),
                                              p_provider => 'aaaaaaaa-0000-4000-8000-000000000003') $$),
          'BK001 providerId', 'book: another organization''s provider: BK001 naming providerId');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-p', 'tc-noname', '+15550005004',
                                              pg_temp.t(14, '15:00'), p_name => '  ') $$),
          'BK001 name', 'book: a new caller without a name: BK001 naming name');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-p', 'tc-said-error', '+15550005004',
                                              pg_temp.t(14, '15:00')) $$),
          'BK004', 'book: a tool call id already answered with an error: BK004, nothing booked');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'before-refused'),
          'book: refused (taken, public rules, replayed error): nothing written at all');
SELECT is((SELECT count(*)::int FROM contacts WHERE phone IN ('+15550005003', '+15550005004')), 0,
          'book: ... in particular no contact for the callers refused');
SELECT is(ARRAY[vapi_answer('11111111-1111-4111-8111-111111111111', 'tc-taken'),
                vapi_answer('11111111-1111-4111-8111-111111111111', 'tc-closed')],
          ARRAY[NULL, NULL]::jsonb[], 'book: ... and no answer: a retry is judged afresh');

-- The call's hold at this time is converted: the appointment is the hold.
INSERT INTO res VALUES ('vh', jsonb_build_object('id', pg_temp.call_hold('call-h', pg_temp.t(15, '10:00'))));
INSERT INTO res VALUES ('vbh', pg_temp.vbook('call-h', 'tc-h', '+15550005006', pg_temp.t(15, '10:00')));
SELECT is(pg_temp.r('vbh') - 'answer', '{"isError": false, "expiredHolds": null, "holdConverted": true}'::jsonb,
          'book: the call holds this time: holdConverted true');
SELECT is(pg_temp.vaid('tc-h'), (pg_temp.r('vh') ->> 'id')::uuid,
          'book: the appointment is the hold itself (its id), and the answer names it');
SELECT results_eq($$
    SELECT a.status::text, a.expires_at, a.scheduled_at, a.duration_minutes::int, c.phone
      FROM appointments a JOIN contacts c ON c.id = a.contact_id
     WHERE a.id = (pg_temp.r('vh') ->> 'id')::uuid
    $$, $$
    VALUES ('confirmed', NULL::timestamptz, pg_temp.t(15, '10:00'), 30, '+15550005006')
    $$, 'book: ... confirmed, no expiry, for the caller''s new contact');
SELECT ok(NOT EXISTS (SELECT 1 FROM vapi_call_holds WHERE call_id = 'call-h'),
          'book: the call''s hold row is gone');
SELECT is(ARRAY(SELECT action FROM audit_logs WHERE entity_id = (pg_temp.r('vh') ->> 'id')::uuid
                 ORDER BY action),
          ARRAY['appointment.booked', 'hold.converted', 'hold.created'],
          'book: audit: hold.created, then appointment.booked and hold.converted');
-- A shorter booking at the held start lies inside the hold: converted too.
INSERT INTO res VALUES ('vs', jsonb_build_object('id', pg_temp.call_hold('call-s', pg_temp.t(15, '15:00'))));
INSERT INTO res VALUES ('vbs', pg_temp.vbook('call-s', 'tc-s', '+15550005006', pg_temp.t(15, '15:00'), 15));
SELECT is(ARRAY[pg_temp.r('vbs') ->> 'holdConverted',
                (SELECT duration_minutes FROM appointments
                  WHERE id = (pg_temp.r('vs') ->> 'id')::uuid AND status = 'confirmed')::text],
          ARRAY['true', '15'], 'book: 15 minutes at the start of a 30-minute call hold: converted');
-- An expired call hold at this time: booked anew, the hold cleared, its row gone.
INSERT INTO res VALUES ('ve', jsonb_build_object('id', pg_temp.call_hold('call-e', pg_temp.t(15, '13:00'))));
CALL pg_temp.expire((pg_temp.r('ve') ->> 'id')::uuid);
INSERT INTO res VALUES ('vbe', pg_temp.vbook('call-e', 'tc-e', '+15550005006', pg_temp.t(15, '13:00')));
SELECT is(pg_temp.r('vbe') - 'answer', '{"isError": false, "expiredHolds": 1, "holdConverted": null}'::jsonb,
          'book: the call''s hold had expired: booked anew, the expired hold cleared (expiredHolds 1)');
SELECT is(ARRAY[pg_temp.vaid('tc-e') <> (pg_temp.r('ve') ->> 'id')::uuid,
                EXISTS (SELECT 1 FROM vapi_call_holds WHERE call_id = 'call-e'),
                EXISTS (SELECT 1 FROM appointments WHERE id = (pg_temp.r('ve') ->> 'id')::uuid)],
          ARRAY[true, false, false],
          'book: ... an appointment of its own; the call''s hold row and the hold are gone');

-- The call holds another time, or this time for less than is booked:
-- BK003, nothing written, the hold kept (the caller releases it and calls again).
INSERT INTO res VALUES ('vx', jsonb_build_object('id', pg_temp.call_hold('call-x', pg_temp.t(15, '11:00'))));
INSERT INTO snap VALUES ('before-bk003', pg_temp.written());
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-x', 'tc-x', '+15550005007',
                                              pg_temp.t(15, '12:00')) $$),
          'BK003', 'book: the call holds another time: BK003');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-x', 'tc-x', '+15550005007',
                                              pg_temp.t(15, '11:00'), 60) $$),
          'BK003', 'book: the call holds this time for 30 minutes, 60 are booked: BK003');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'before-bk003'),
          'book: BK003 writes nothing (no contact, answer or appointment)');
SELECT results_eq($$
    SELECT h.scheduled_at, a.status::text, a.duration_minutes::int FROM vapi_call_holds h
      JOIN appointments a ON a.id = h.hold_id WHERE h.call_id = 'call-x'
    $$, $$ VALUES (pg_temp.t(15, '11:00'), 'held', 30) $$,
    'book: ... and the call''s hold stays as it was');
-- What the caller then does: release the hold, forget it, book again.
SELECT is(release_hold('11111111-1111-4111-8111-111111111111', (pg_temp.r('vx') ->> 'id')::uuid,
                       2000, 'vapi') ->> 'status', 'released', 'setup: the call''s hold released');
DELETE FROM vapi_call_holds WHERE call_id = 'call-x';
SELECT is(pg_temp.vbook('call-x', 'tc-x', '+15550005007', pg_temp.t(15, '11:00'), 60) ->> 'answer',
          'Booked for ' || vapi_say_time(pg_temp.t(15, '11:00'), 'Europe/Berlin') || '.',
          'book: then the held time is booked for the longer length');

-- A twin of the tool call that answered meanwhile (made here by a trigger
-- that stores its answer while the booking runs): BK004, nothing of this
-- one stays, whether it booked or found the time taken.
CREATE FUNCTION pg_temp.twin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.vapi_tool_results (org_id, tool_call_id, is_error, answer)
    VALUES (NEW.org_id, 'tc-twin', false, 'Booked by the twin.') ON CONFLICT DO NOTHING;
    RETURN NEW;
END
$$;
CREATE TRIGGER pgtap_twin BEFORE INSERT ON appointments FOR EACH ROW
    WHEN (NEW.notes = 'pgtap twin') EXECUTE FUNCTION pg_temp.twin();
INSERT INTO snap VALUES ('before-twin', pg_temp.written());
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-w', 'tc-twin', '+15550005008',
                                              pg_temp.t(15, '14:00'), p_notes => 'pgtap twin') $$),
          'BK004', 'book: a twin answered while this one booked: BK004');
SELECT is(pg_temp.err($$ SELECT pg_temp.vbook('call-w', 'tc-twin', '+15550005008',
                                              pg_temp.t(15, '10:00'), p_notes => 'pgtap twin') $$),
          'BK004', 'book: a twin answered while this one found the time taken: BK004, not 23P01');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'before-twin'),
          'book: BK004 writes nothing');
DROP TRIGGER pgtap_twin ON appointments;


-- vapi_answer --------------------------------------------------------------------------------
SELECT is(vapi_answer('11111111-1111-4111-8111-111111111111', 'tc-b2'),
          jsonb_build_object('answer', pg_temp.r('vb2') ->> 'answer', 'isError', false,
                             'replayed', true),
          'answer: the stored answer of a tool call, as a retry gets it');
SELECT is(vapi_answer('22222222-2222-4222-8222-222222222222', 'tc-b2'), NULL,
          'answer: another organization''s tool call id: NULL');
SELECT is(vapi_answer('11111111-1111-4111-8111-111111111111', 'tc-never'), NULL,
          'answer: an unknown tool call id: NULL');


-- vapi_call_list -----------------------------------------------------------------------------
-- org1 has call-1 (ended, no booking) and call-3 reported; above, call-b1
-- booked tc-b1 (since cancelled), call-b2 booked twice, call-h converted its
-- hold, call-s, call-e and call-x booked once. Reported now: call-b2 and
-- call-h; the others never are.
-- More answers of call-3, written in this order: one that booked, one
-- that did not, another that booked; and one of org2's call-3.
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-b2', 'in-progress',
                 '2030-01-07 12:00:00+00', NULL, NULL);
CALL pg_temp.rec('11111111-1111-4111-8111-111111111111', 'call-h', 'in-progress', NULL, NULL, NULL);
INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer, call_id, appointment_id,
                               created_at) VALUES
    ('11111111-1111-4111-8111-111111111111', 'tc-3a', false, 'x', 'call-3',
     'ffffffff-0000-4000-8000-00000000000b', now() - interval '3 minutes'),
    ('11111111-1111-4111-8111-111111111111', 'tc-3b', true, 'x', 'call-3', NULL,
     now() - interval '2 minutes'),
    ('11111111-1111-4111-8111-111111111111', 'tc-3c', false, 'x', 'call-3',
     'ffffffff-0000-4000-8000-00000000000a', now() - interval '1 minute'),
    ('22222222-2222-4222-8222-222222222222', 'tc-3d', false, 'x', 'call-3',
     'ffffffff-0000-4000-8000-00000000000c', now());
-- Most recently updated first: call-b2, call-h (now, by id), call-3, call-1.
-- (One transaction: call-b2's two answers have the same created_at; the first is made older.)
UPDATE vapi_tool_results SET created_at = now() - interval '5 minutes'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND tool_call_id = 'tc-b2';
UPDATE vapi_calls SET updated_at = now() - interval '20 minutes'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND call_id = 'call-1';
UPDATE vapi_calls SET updated_at = now() - interval '10 minutes'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND call_id = 'call-3';
CREATE FUNCTION pg_temp.calls(p_limit int DEFAULT 50,
                              p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111')
RETURNS jsonb LANGUAGE sql AS $$ SELECT public.vapi_call_list(p_org, p_limit) $$;
CREATE FUNCTION pg_temp.call_ids(p_list jsonb) RETURNS text[] LANGUAGE sql AS $$
SELECT coalesce(array_agg(e ->> 'id' ORDER BY n), '{}')
  FROM jsonb_array_elements(p_list) WITH ORDINALITY AS x (e, n) $$;
CREATE FUNCTION pg_temp.listed(p_call text, p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111')
RETURNS jsonb LANGUAGE sql AS $$
SELECT e FROM jsonb_array_elements(pg_temp.calls(500, p_org)) e WHERE e ->> 'id' = p_call $$;

SELECT is(pg_temp.call_ids(pg_temp.calls()), ARRAY['call-b2', 'call-h', 'call-3', 'call-1'],
          'calls: the reported calls, most recently updated first (ties by id); a call never '
          'reported is not listed, whatever it booked');
SELECT is(ARRAY(SELECT DISTINCT k FROM jsonb_array_elements(pg_temp.calls()) e,
                                       jsonb_object_keys(e) k ORDER BY 1),
          ARRAY['appointmentIds', 'endedAt', 'endedReason', 'id', 'startedAt', 'status'],
          'calls: each is {appointmentIds, endedAt, endedReason, id, startedAt, status}');
SELECT is(pg_temp.listed('call-1'),
          '{"id": "call-1", "status": "ended", "startedAt": "2030-01-07T09:00:00.000Z",
            "endedAt": "2030-01-07T09:05:02.000Z", "endedReason": "assistant-ended-call",
            "appointmentIds": []}'::jsonb,
          'calls: a call without bookings: appointmentIds [] (not null); times in UTC');
SELECT is(pg_temp.listed('call-b2'),
          jsonb_build_object('id', 'call-b2', 'status', 'in-progress',
                             'startedAt', '2030-01-07T12:00:00.000Z', 'endedAt', NULL,
                             'endedReason', NULL,
                             'appointmentIds', jsonb_build_array(pg_temp.vaid('tc-b2'),
                                                                 pg_temp.vaid('tc-b4'))),
          'calls: the appointments vapi_book booked during the call (from its answers)');
SELECT is(pg_temp.listed('call-h') -> 'appointmentIds',
          jsonb_build_array(pg_temp.r('vh') ->> 'id'),
          'calls: a converted hold is listed by its id (the appointment''s)');
SELECT is(pg_temp.listed('call-3') -> 'appointmentIds',
          '["ffffffff-0000-4000-8000-00000000000b", "ffffffff-0000-4000-8000-00000000000a"]'::jsonb,
          'calls: in the order the answers were written; an answer that booked nothing '
          'and another organization''s are left out');
SELECT is(pg_temp.listed('call-b1'), NULL,
          'calls: call-b1 (booked, never reported) is not listed');
SELECT is(pg_temp.call_ids(pg_temp.calls(1)), ARRAY['call-b2'], 'calls: limit 1: the latest');
SELECT is(pg_temp.call_ids(pg_temp.calls(3)), ARRAY['call-b2', 'call-h', 'call-3'],
          'calls: limit 3: the latest three');
SELECT is(pg_temp.calls(0), '[]'::jsonb, 'calls: limit 0: []');
SELECT is(pg_temp.calls(50, '22222222-2222-4222-8222-222222222222'),
          '[{"id": "call-1", "status": "ringing", "startedAt": null, "endedAt": null,
             "endedReason": null, "appointmentIds": []}]'::jsonb,
          'calls: org2 sees its own call-1 alone, without org1''s bookings');
SELECT is(pg_temp.calls(50, '33333333-3333-4333-8333-333333333333'), '[]'::jsonb,
          'calls: an organization without reported calls: [] (its booking without a call id '
          'makes none)');
UPDATE vapi_calls SET updated_at = now() - interval '30 minutes'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND call_id = 'call-b2';
SELECT is(pg_temp.call_ids(pg_temp.calls()), ARRAY['call-h', 'call-3', 'call-1', 'call-b2'],
          'calls: ordered by when each was last updated');


-- Call ids are at most 200 characters ------------------------------------------------------
SELECT is(pg_temp.err(format($$ SELECT vapi_record_call('11111111-1111-4111-8111-111111111111',
                                                      %L, 'ended', NULL, NULL, NULL) $$,
                             repeat('x', 201))),
          '23514', 'limits: vapi_calls refuses a 201-character call id');
SELECT is(pg_temp.err(format($$ SELECT vapi_record_call('11111111-1111-4111-8111-111111111111',
                                                      %L, 'ended', NULL, NULL, NULL) $$,
                             repeat('x', 200))),
          'no error', 'limits: vapi_calls takes a 200-character call id');
SELECT is(pg_temp.err(format($$ INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error,
                                                              answer, call_id)
                               VALUES ('11111111-1111-4111-8111-111111111111', 'tc-long', false,
                                       'x', %L) $$, repeat('y', 201))),
          '23514', 'limits: vapi_tool_results refuses a 201-character call id');
INSERT INTO snap VALUES ('before-long', pg_temp.written());
SELECT is(pg_temp.err(format($$ SELECT pg_temp.vbook(%L, 'tc-long', '+15550005010',
                                                     pg_temp.t(15, '16:00')) $$,
                             repeat('y', 201))),
          '23514', 'limits: vapi_book with a 201-character call id: refused');
SELECT is(pg_temp.written(), (SELECT v FROM snap WHERE k = 'before-long'),
          'limits: ... and nothing of that booking is left');
SELECT is(pg_temp.err($$ SELECT vapi_record_call('11111111-1111-4111-8111-111111111111', '',
                                                'ended', NULL, NULL, NULL) $$),
          '23514', 'limits: vapi_calls refuses an empty call id');
SELECT is(pg_temp.err(format($$ INSERT INTO vapi_call_holds (org_id, call_id, hold_id, scheduled_at)
                               VALUES ('11111111-1111-4111-8111-111111111111', %L,
                                       gen_random_uuid(), now()) $$, repeat('x', 201))),
          '23514', 'limits: vapi_call_holds refuses a 201-character call id');
SELECT is(pg_temp.err(format($$ INSERT INTO vapi_call_holds (org_id, call_id, hold_id, scheduled_at)
                               VALUES ('11111111-1111-4111-8111-111111111111', %L,
                                       gen_random_uuid(), now()) $$, repeat('x', 200))),
          'no error', 'limits: vapi_call_holds takes a 200-character call id');
SELECT is(pg_temp.err(format($$ INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer)
                               VALUES ('11111111-1111-4111-8111-111111111111', %L, false, 'x') $$,
                             repeat('x', 201))),
          '23514', 'limits: vapi_tool_results refuses a 201-character tool call id');
SELECT is(pg_temp.err(format($$ INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer)
                               VALUES ('11111111-1111-4111-8111-111111111111', %L, false, 'x') $$,
                             repeat('x', 200))),
          'no error', 'limits: vapi_tool_results takes a 200-character tool call id');
SELECT is(pg_temp.err($$ SELECT vapi_record_call('11111111-1111-4111-8111-111111111111', 'c-long',
                                                'ended', NULL, NULL, repeat('r', 101)) $$),
          '23514', 'limits: ended_reason is at most 100 characters');


-- vapi_purge -------------------------------------------------------------------------------
-- Answers (and with them the appointments a call lists) and calls are kept
-- for the retention (30 days here), call holds for a day. Old: 3 answers
-- 31 days old, 3 call holds 2 days old, 3 calls 31 days old. Kept: answers
-- 29 days and 25 hours old, a call hold 23 hours old, a call 29 days old.
INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer, created_at)
SELECT '11111111-1111-4111-8111-111111111111'::uuid, 'old-' || i, false, 'x',
       now() - interval '31 days'
  FROM generate_series(1, 3) i
UNION ALL
SELECT '22222222-2222-4222-8222-222222222222', 'young-' || i, false, 'x',
       now() - interval '29 days'
  FROM generate_series(1, 2) i
UNION ALL
SELECT '11111111-1111-4111-8111-111111111111', 'young-3', false, 'x', now() - interval '25 hours';
INSERT INTO vapi_call_holds (org_id, call_id, hold_id, scheduled_at, created_at)
SELECT '11111111-1111-4111-8111-111111111111'::uuid, 'old-' || i, gen_random_uuid(), now(),
       now() - interval '2 days'
  FROM generate_series(1, 3) i
UNION ALL
SELECT '11111111-1111-4111-8111-111111111111', 'young-1', gen_random_uuid(), now(),
       now() - interval '23 hours';
INSERT INTO vapi_calls (org_id, call_id, status, updated_at)
SELECT '22222222-2222-4222-8222-222222222222'::uuid, 'old-' || i, 'ended', now() - interval '31 days'
  FROM generate_series(1, 3) i
UNION ALL
SELECT '11111111-1111-4111-8111-111111111111', 'young-1', 'ended', now() - interval '29 days';
INSERT INTO snap VALUES ('before-purge', format('results=%s holds=%s calls=%s',
    (SELECT count(*) FROM vapi_tool_results WHERE tool_call_id NOT LIKE 'old-%'),
    (SELECT count(*) FROM vapi_call_holds WHERE call_id NOT LIKE 'old-%'),
    (SELECT count(*) FROM vapi_calls WHERE call_id NOT LIKE 'old-%')));
SELECT is(vapi_purge(30, 2), 6, 'purge: batch 2: two answers, two call holds, two calls');
SELECT is(format('%s/%s/%s',
                 (SELECT count(*) FROM vapi_tool_results WHERE tool_call_id LIKE 'old-%'),
                 (SELECT count(*) FROM vapi_call_holds WHERE call_id LIKE 'old-%'),
                 (SELECT count(*) FROM vapi_calls WHERE call_id LIKE 'old-%')),
          '1/1/1', 'purge: one old row of each is left for the next batch');
SELECT is(vapi_purge(30, 2), 3, 'purge: the next batch takes the rest');
SELECT is(vapi_purge(30, 2), 0, 'purge: then nothing is left to purge');
SELECT is(format('results=%s holds=%s calls=%s',
                 (SELECT count(*) FROM vapi_tool_results),
                 (SELECT count(*) FROM vapi_call_holds),
                 (SELECT count(*) FROM vapi_calls)),
          (SELECT v FROM snap WHERE k = 'before-purge'),
          'purge: every younger answer, call hold and call is kept');
SELECT ok(EXISTS (SELECT 1 FROM vapi_tool_results WHERE tool_call_id = 'young-3'),
          'purge: an answer 25 hours old is kept (answers go by the retention, not by the day)');
SELECT ok(EXISTS (SELECT 1 FROM vapi_calls WHERE call_id = 'young-1')
          AND (SELECT count(*) FROM vapi_tool_results WHERE tool_call_id LIKE 'young-%') = 3,
          'purge: a call and answers 29 days old are kept with a 30-day retention');
SELECT is(vapi_purge(28, 10), 3, 'purge: with a 28-day retention they go (a call, two answers)');
SELECT is(vapi_purge(1, 10), 1,
          'purge: with a 1-day retention the 25-hour-old answer goes, the 23-hour-old call hold stays');
SELECT ok(EXISTS (SELECT 1 FROM vapi_call_holds WHERE call_id = 'young-1'),
          'purge: ... call holds go by the day alone');


-- Who may call what -------------------------------------------------------------------------
SELECT ok(NOT has_function_privilege('public', f, 'EXECUTE'), f || ' is not executable by PUBLIC')
  FROM unnest(ARRAY['vapi_offer(uuid, uuid, int, int, int, timestamptz, date, int)',
                    'vapi_contact(uuid, text, text, text, text)',
                    'vapi_find_appointments(uuid, text, timestamptz)',
                    'vapi_book(uuid, text, text, text, text, text, text, uuid, uuid, timestamptz, '
                    'int, bigint[], timestamptz, timestamptz, int, text, bytea)',
                    'vapi_record_call(uuid, text, text, timestamptz, timestamptz, text)',
                    'vapi_call_list(uuid, int)',
                    'vapi_purge(int, int)']) f;
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'vapi\_%' AND p.prosecdef
       AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c
                        WHERE c IN ('search_path=pg_catalog, public',
                                    'search_path=pg_catalog, public, pg_temp'))
    $$, 'every SECURITY DEFINER vapi_* function pins search_path = pg_catalog, public');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'vapi\_say\_%'
       AND (p.prosecdef OR p.provolatile = 'v')
    $$, 'the vapi_say_* functions are neither SECURITY DEFINER nor volatile');
SELECT has_index('public', 'contacts', 'contacts_phone', ARRAY['org_id', 'phone'],
                 'contacts_phone indexes (org_id, phone)');
SELECT col_is_pk('public', 'vapi_calls', ARRAY['org_id', 'call_id'],
                 'vapi_calls: one row per (organization, call id)');
SELECT hasnt_column('public', 'vapi_calls', 'appointment_ids',
                    'vapi_calls keeps no appointment ids (a call''s are in vapi_tool_results)');
SELECT has_index('public', 'vapi_tool_results', 'vapi_tool_results_call', ARRAY['org_id', 'call_id'],
                 'vapi_tool_results_call indexes (org_id, call_id) for the call list');
SELECT hasnt_function('public', 'vapi_call_booked', 'vapi_call_booked is gone');
SELECT lives_ok($$
    INSERT INTO audit_logs (org_id, actor, action, entity_type, entity_id)
    VALUES ('11111111-1111-4111-8111-111111111111', 'system', 'vapi_secret.rotated',
            'organization', '11111111-1111-4111-8111-111111111111')
    $$, 'audit_logs accepts entity type organization');

SELECT * FROM finish();
ROLLBACK;
