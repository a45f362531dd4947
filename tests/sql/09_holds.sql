-- Slot holds (API.md "Slot holds" and "Conflicts with holds and external
-- busy times", DESIGN.md "Slot holds"): hold_slot, release_hold,
-- holds_purge, and what holds do to booking, checking, free slots,
-- cancelling, rescheduling, listing and the exclusion constraint.
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(175);

\ir fixtures.psql

-- Helpers of this file ---------------------------------------------------------
-- Each entry point normally runs in a transaction of its own; bk_finish
-- reports the expired holds removed by "this transaction" (a transaction-
-- local setting). Here everything shares one transaction, so the helpers
-- clear that count first, as a new transaction would.
CREATE FUNCTION pg_temp.fresh() RETURNS void LANGUAGE sql AS $$
SELECT set_config('bk.expired_holds', '', true) $$;

-- Lock bounds of a range: the buffered range widened to 15-minute buckets.
CREATE FUNCTION pg_temp.span(p_service uuid, p_at timestamptz, p_duration int,
                             OUT f timestamptz, OUT t timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_before int;
    v_after int;
    v_dur int;
BEGIN
    SELECT s.buffer_before_minutes, s.buffer_after_minutes, s.duration_minutes
      INTO v_before, v_after, v_dur FROM public.services s WHERE s.id = p_service;
    f := pg_temp.floor15(p_at - make_interval(mins => coalesce(v_before, 0)));
    t := pg_temp.ceil15(p_at + make_interval(mins => coalesce(p_duration, v_dur, 60)
                                                   + coalesce(v_after, 0)));
END
$$;

-- hold_slot with correctly computed lock bounds.
CREATE FUNCTION pg_temp.hold(p_provider uuid, p_service uuid, p_at timestamptz,
                             p_duration int, p_ttl int DEFAULT 300,
                             p_public boolean DEFAULT false, p_max int DEFAULT 0,
                             p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111',
                             p_actor text DEFAULT 'admin_key:pgtap')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    PERFORM pg_temp.fresh();
    s := pg_temp.span(p_service, p_at, p_duration);
    RETURN public.hold_slot(p_org, p_provider, p_service, p_at, p_duration, p_ttl,
                            pg_temp.keys(s.f, s.t), s.f, s.t, 2000, p_actor, p_public, p_max);
END
$$;

-- book_appointment_with_lock with a hold id (NULL: a plain booking).
CREATE FUNCTION pg_temp.bookh(p_provider uuid, p_contact uuid, p_service uuid,
                              p_at timestamptz, p_duration int, p_hold uuid,
                              p_public boolean DEFAULT false, p_notes text DEFAULT NULL,
                              p_org uuid DEFAULT '11111111-1111-4111-8111-111111111111',
                              p_actor text DEFAULT 'admin_key:pgtap',
                              p_key text DEFAULT NULL, p_hash bytea DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    PERFORM pg_temp.fresh();
    s := pg_temp.span(p_service, p_at, p_duration);
    RETURN public.book_appointment_with_lock(
        p_org, p_provider, p_contact, p_service, p_at, p_duration, p_notes, NULL,
        pg_temp.keys(s.f, s.t), s.f, s.t, 2000, p_actor, p_key, p_hash, p_public, p_hold);
END
$$;

-- The hold id of a stored hold_slot result.
CREATE FUNCTION pg_temp.hid(p_k text) RETURNS uuid
LANGUAGE sql AS $$ SELECT (v -> 'hold' ->> 'holdId')::uuid FROM res WHERE k = p_k $$;

-- Makes a hold's time be up, keeping the CHECK constraint satisfied (a held
-- row has an expires_at). A procedure, so that CALL prints nothing.
CREATE PROCEDURE pg_temp.expire(p_id uuid) LANGUAGE sql AS $$
UPDATE public.appointments SET expires_at = now() - interval '1 minute'
 WHERE id = p_id AND status = 'held'
$$;

-- The row of an id as "status/expired?", or 'gone'.
CREATE FUNCTION pg_temp.row_state(p_id uuid) RETURNS text LANGUAGE sql AS $$
SELECT coalesce((SELECT status || CASE WHEN expires_at IS NULL THEN ''
                                       WHEN expires_at <= clock_timestamp() THEN '/expired'
                                       ELSE '/live' END
                   FROM public.appointments WHERE id = p_id), 'gone')
$$;

-- The appointment statements of src/db/statements.c that must never show a
-- hold (copied verbatim: the listing, the read by id, and the range lookup
-- that reschedule's lock keys come from).
PREPARE appointment_list (uuid, timestamptz, timestamptz, uuid, text, timestamptz, uuid, int) AS
SELECT coalesce(json_agg(bk_appointment_json(a) ORDER BY a.scheduled_at, a.id), '[]')::text
  FROM (SELECT * FROM appointments WHERE org_id = $1::uuid AND status <> 'held'
   AND ($2::timestamptz IS NULL OR scheduled_at >= $2::timestamptz)
   AND ($3::timestamptz IS NULL OR scheduled_at < $3::timestamptz)
   AND ($4::uuid IS NULL OR provider_id = $4::uuid)
   AND ($5::text IS NULL OR status = $5::text)
   AND ($6::timestamptz IS NULL OR (scheduled_at, id) > ($6::timestamptz, $7::uuid))
 ORDER BY scheduled_at, id LIMIT $8::int) a;
PREPARE appointment_get (uuid, uuid) AS
SELECT bk_appointment_json(a)::text FROM appointments a
 WHERE a.org_id = $1::uuid AND a.id = $2::uuid AND a.status <> 'held';
PREPARE appointment_range (uuid, uuid) AS
SELECT provider_id, (extract(epoch FROM buffered_start) * 1000)::bigint,
       (extract(epoch FROM buffered_end) * 1000)::bigint, duration_minutes,
       buffer_before_minutes, buffer_after_minutes
  FROM appointments WHERE org_id = $1::uuid AND id = $2::uuid AND status <> 'held';


-- hold_slot: a successful hold ----------------------------------------------------
INSERT INTO snap VALUES ('before-h1', pg_temp.totals());
INSERT INTO res VALUES ('h1', pg_temp.hold(
    'aaaaaaaa-0000-4000-8000-000000000001', NULL, '2030-01-07 10:00:00+00', 30, 120));
SELECT is(pg_temp.r('h1') ->> 'status', 'held', 'hold: status held');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('h1')) ORDER BY 1),
          ARRAY['hold', 'lockWaitUs', 'status'],
          'hold: the result is exactly {status, hold, lockWaitUs} (no expiredHolds when none)');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('h1') -> 'hold') ORDER BY 1),
          ARRAY['durationMinutes', 'expiresAt', 'holdId', 'providerId', 'scheduledAt',
                'serviceId'],
          'hold: the hold object has exactly the API''s fields');
SELECT is(pg_temp.r('h1') -> 'hold' ->> 'scheduledAt', '2030-01-07T10:00:00.000Z',
          'hold: scheduledAt in toISOString() form (UTC, despite the session time zone)');
SELECT is(pg_temp.r('h1') -> 'hold' -> 'durationMinutes', '30'::jsonb,
          'hold: durationMinutes is the JSON number 30');
SELECT is(pg_temp.r('h1') -> 'hold' ->> 'providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
          'hold: providerId');
SELECT is(pg_temp.r('h1') -> 'hold' -> 'serviceId', 'null'::jsonb,
          'hold: serviceId is JSON null without a service');
SELECT matches(pg_temp.r('h1') -> 'hold' ->> 'expiresAt',
               '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$', 'hold: expiresAt format');
SELECT ok((pg_temp.r('h1') -> 'hold' ->> 'expiresAt')::timestamptz
              BETWEEN now() + interval '120 seconds' - interval '1 millisecond'
                  AND clock_timestamp() + interval '120 seconds',
          'hold: expiresAt is the time of the call plus ttlSeconds (120)');
SELECT matches(pg_temp.r('h1') -> 'hold' ->> 'holdId',
               '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
               'hold: holdId is a lower-case canonical UUID');
SELECT ok(jsonb_typeof(pg_temp.r('h1') -> 'lockWaitUs') = 'number'
          AND (pg_temp.r('h1') ->> 'lockWaitUs')::bigint >= 0,
          'hold: lockWaitUs is a non-negative number');
SELECT results_eq($$
    SELECT org_id, provider_id, contact_id, service_id, scheduled_at, duration_minutes::int,
           buffered_start, buffered_end, status::text, bk_iso(expires_at), notes::text
      FROM appointments WHERE id = pg_temp.hid('h1')
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid,
            'aaaaaaaa-0000-4000-8000-000000000001'::uuid, NULL::uuid, NULL::uuid,
            '2030-01-07 10:00:00+00'::timestamptz, 30,
            '2030-01-07 10:00:00+00'::timestamptz, '2030-01-07 10:30:00+00'::timestamptz,
            'held', pg_temp.r('h1') -> 'hold' ->> 'expiresAt', NULL::text)
    $$, 'hold: a row of appointments, status held, no contact, with the expiry answered');
SELECT results_eq($$
    SELECT org_id, actor, action, entity_type::text FROM audit_logs WHERE entity_id = pg_temp.hid('h1')
    $$, $$
    VALUES ('11111111-1111-4111-8111-111111111111'::uuid, 'admin_key:pgtap', 'hold.created',
            'hold')
    $$, 'hold: exactly one audit row, hold.created, entity type hold, with the actor');
SELECT is((SELECT details FROM audit_logs WHERE entity_id = pg_temp.hid('h1')),
          jsonb_build_object('providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
                             'scheduledAt', '2030-01-07T10:00:00.000Z', 'durationMinutes', 30,
                             'expiresAt', pg_temp.r('h1') -> 'hold' ->> 'expiresAt'),
          'hold: audit details are the provider, the times and the expiry');
SELECT is(pg_temp.totals(),
          (SELECT format('appointments=%s audit=%s outbox=%s idempotency=%s',
                         (split_part(split_part(v, ' ', 1), '=', 2))::int + 1,
                         (split_part(split_part(v, ' ', 2), '=', 2))::int + 1,
                         split_part(split_part(v, ' ', 3), '=', 2),
                         split_part(split_part(v, ' ', 4), '=', 2))
             FROM snap WHERE k = 'before-h1'),
          'hold: one row and one audit entry written, no outbox event, no idempotency key');

-- ttlSeconds: 30..900 --------------------------------------------------------------
INSERT INTO snap VALUES ('before-bad-holds', pg_temp.totals());
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                             '2030-02-01 10:00+00', 30, 29) $$),
          'BK001 ttlSeconds', 'ttlSeconds 29: BK001 naming ttlSeconds');
SELECT throws_ok($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                        '2030-02-01 10:00+00', 30, 901) $$,
                 'BK001', 'ttlSeconds must be an integer from 30 to 900',
                 'ttlSeconds 901: BK001 with the range in the message');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                             '2030-02-01 10:00+00', 30, NULL) $$),
          'BK001 ttlSeconds', 'ttlSeconds NULL: BK001 naming ttlSeconds');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                             '2030-02-01 10:00+00', 30, -300) $$),
          'BK001 ttlSeconds', 'ttlSeconds negative: BK001 naming ttlSeconds');

-- durationMinutes: 1..1440, or the service's ---------------------------------------
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                             '2030-02-01 10:00+00', 0) $$),
          'BK001 durationMinutes', 'durationMinutes 0: BK001 naming durationMinutes');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                             '2030-02-01 10:00+00', 1441) $$),
          'BK001 durationMinutes', 'durationMinutes 1441: BK001 naming durationMinutes');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                             '2030-02-01 10:00+00', NULL) $$),
          'BK001 durationMinutes', 'no duration and no service: BK001 naming durationMinutes');

-- Unknown ids and missing time ---------------------------------------------------
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('eeeeeeee-0000-4000-8000-000000000000', NULL,
                                             '2030-02-01 10:00+00', 30) $$),
          'BK001 providerId', 'unknown provider: BK001 naming providerId');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000003', NULL,
                                             '2030-02-01 10:00+00', 30) $$),
          'BK001 providerId', 'another organization''s provider: BK001 naming providerId');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002',
                                             'eeeeeeee-0000-4000-8000-000000000000',
                                             '2030-02-01 10:00+00', 30) $$),
          'BK001 serviceId', 'unknown service: BK001 naming serviceId');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002',
                                             'dddddddd-0000-4000-8000-000000000004',
                                             '2030-02-01 10:00+00', NULL) $$),
          'BK001 serviceId', 'another organization''s service: BK001 naming serviceId');
SELECT is(pg_temp.err($$ SELECT hold_slot('11111111-1111-4111-8111-111111111111',
                                          'aaaaaaaa-0000-4000-8000-000000000002', NULL, NULL, 30,
                                          300, '{1}', '2030-02-01 10:00+00',
                                          '2030-02-01 10:15+00', 2000, 'admin_key:pgtap',
                                          false, 0) $$),
          'BK001 scheduledAt', 'no scheduledAt: BK001 naming scheduledAt');
SELECT throws_ok($$ SELECT hold_slot('11111111-1111-4111-8111-111111111111',
                                     'aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                     '2030-02-01 10:00+00', 60, 300, '{1,2}',
                                     '2030-02-01 10:00+00', '2030-02-01 10:30+00', 2000,
                                     'admin_key:pgtap', false, 0) $$,
                 'BK005', NULL, 'lock keys that do not cover the held range: BK005');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-bad-holds'),
          'refused holds wrote nothing');

-- The bounds themselves are accepted.
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                       '2030-02-01 10:00+00', 1, 30) -> 'hold' -> 'durationMinutes',
          '1'::jsonb, 'durationMinutes 1 with ttlSeconds 30: held');
INSERT INTO res VALUES ('h-max', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                              '2030-02-03 00:00+00', 1440, 900));
SELECT is(pg_temp.r('h-max') -> 'hold' -> 'durationMinutes', '1440'::jsonb,
          'durationMinutes 1440 with ttlSeconds 900: held');
SELECT ok((pg_temp.r('h-max') -> 'hold' ->> 'expiresAt')::timestamptz
              BETWEEN now() + interval '900 seconds' - interval '1 millisecond'
                  AND clock_timestamp() + interval '900 seconds',
          'ttlSeconds 900: expiresAt 15 minutes on');
INSERT INTO res VALUES ('h-300', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                              '2030-02-04 10:00+00', 30, 300));
SELECT ok((pg_temp.r('h-300') -> 'hold' ->> 'expiresAt')::timestamptz
              BETWEEN now() + interval '300 seconds' - interval '1 millisecond'
                  AND clock_timestamp() + interval '300 seconds',
          'ttlSeconds 300: expiresAt five minutes on');

-- A service gives the duration and the buffers.
INSERT INTO res VALUES ('h-svc', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002',
                                              'dddddddd-0000-4000-8000-000000000001',
                                              '2030-02-05 10:00+00', NULL));
SELECT is(pg_temp.r('h-svc') -> 'hold' -> 'durationMinutes', '30'::jsonb,
          'service: the service''s duration (30)');
SELECT is(pg_temp.r('h-svc') -> 'hold' ->> 'serviceId', 'dddddddd-0000-4000-8000-000000000001',
          'service: serviceId in the hold');
SELECT results_eq($$ SELECT buffered_start, buffered_end, buffer_after_minutes::int
                       FROM appointments WHERE id = pg_temp.hid('h-svc') $$,
                  $$ VALUES ('2030-02-05 10:00+00'::timestamptz,
                             '2030-02-05 10:45+00'::timestamptz, 15) $$,
                  'service: the hold''s buffered range has the 15-minute buffer after');
INSERT INTO res VALUES ('h-svc2', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002',
                                               'dddddddd-0000-4000-8000-000000000002',
                                               '2030-02-05 14:00+00', 20));
SELECT results_eq($$ SELECT duration_minutes::int, buffered_start, buffered_end
                       FROM appointments WHERE id = pg_temp.hid('h-svc2') $$,
                  $$ VALUES (20, '2030-02-05 13:45+00'::timestamptz,
                             '2030-02-05 14:20+00'::timestamptz) $$,
                  'service: an explicit duration wins, the buffer before still applies');
-- The buffer is part of the held time: 10:30-11:00 meets the buffer after.
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000002',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-02-05 10:30+00', 30, NULL) -> 'conflictingHold' ->> 'scheduledAt',
          '2030-02-05T10:00:00.000Z', 'service: a booking in the hold''s buffer after conflicts');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000002',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-02-05 10:45+00', 30, NULL) ->> 'status',
          'booked', 'service: a booking where the buffer ends is booked');

-- Public rules -----------------------------------------------------------------
-- Dr Default works Mon/Tue 09:00-17:00 Berlin (08:00-16:00 UTC in January).
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                             '2020-01-06 10:00+00', 30, 300, true) $$),
          'BK001 scheduledAt', 'public: a hold in the past: BK001 naming scheduledAt');
SELECT throws_ok($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                        '2030-01-07 16:00+00', 30, 300, true) $$,
                 'BK001', 'scheduledAt is outside the provider''s working hours',
                 'public: 17:00 Berlin, after hours: BK001');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                             '2030-01-07 15:45+00', 30, 300, true) $$),
          'BK001 scheduledAt', 'public: 16:45 Berlin for 30 minutes runs past 17:00: BK001');
SELECT is(pg_temp.err($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                             '2030-01-09 10:00+00', 30, 300, true) $$),
          'BK001 scheduledAt', 'public: a Wednesday (closed): BK001');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                       '2030-01-07 15:30+00', 30, 300, true) ->> 'status',
          'held', 'public: 16:30-17:00 Berlin, inside the hours: held');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                       '2030-01-07 16:00+00', 30) ->> 'status',
          'held', 'admin: after hours: held');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                       '2020-01-06 10:00+00', 30) ->> 'status',
          'held', 'admin: in the past: held (the public rules do not apply)');

-- The public cap: p_max_public unexpired holds per organization.
CREATE TEMP TABLE cap AS
SELECT count(*)::int AS n FROM appointments
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND status = 'held'
   AND expires_at > clock_timestamp();
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL, '2030-01-08 09:00+00', 30,
                       300, true, (SELECT n + 1 FROM cap)) ->> 'status',
          'held', 'public cap: below the cap: held');
SELECT throws_ok(format($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                               '2030-01-08 10:00+00', 30, 300, true, %s) $$,
                        (SELECT n + 1 FROM cap)),
                 'BK006', NULL, 'public cap: at the cap: BK006');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL, '2030-01-08 10:00+00', 30,
                       300, false, (SELECT n + 1 FROM cap)) ->> 'status',
          'held', 'public cap: an admin hold is not capped');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL, '2030-01-08 11:00+00', 30,
                       300, true, 0) ->> 'status',
          'held', 'public cap: p_max_public 0 is no cap');
-- Expired holds do not count: expire them all, and a cap of 1 lets one through.
CALL pg_temp.expire(pg_temp.hid('h1'));
UPDATE appointments SET expires_at = now() - interval '1 minute'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND status = 'held';
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL, '2030-01-08 12:00+00', 30,
                       300, true, 1) ->> 'status',
          'held', 'public cap: expired holds do not count');
SELECT throws_ok($$ SELECT pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                        '2030-01-08 13:00+00', 30, 300, true, 1) $$,
                 'BK006', NULL, 'public cap: the next one is over the cap of 1');
-- Leave every hold so far expired (the sections below use other times).
UPDATE appointments SET expires_at = now() - interval '1 minute'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND status = 'held';

-- Conflicts: holds against bookings and holds ----------------------------------------
INSERT INTO res VALUES ('hc', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-03-04 10:00+00', 60));
INSERT INTO snap VALUES ('before-hold-conflicts', pg_temp.totals());
INSERT INTO res VALUES ('bc', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000002', NULL,
                                            '2030-03-04 10:30+00', 30, NULL));
SELECT is(pg_temp.r('bc') ->> 'status', 'conflict', 'a booking over a hold: conflict');
SELECT is(pg_temp.r('bc') -> 'conflictingHold',
          jsonb_build_object('scheduledAt', '2030-03-04T10:00:00.000Z', 'durationMinutes', 60,
                             'expiresAt', pg_temp.r('hc') -> 'hold' ->> 'expiresAt'),
          'a booking over a hold: conflictingHold is exactly {scheduledAt, durationMinutes, expiresAt}');
SELECT ok(NOT pg_temp.r('bc') ? 'conflictingAppointment' AND NOT pg_temp.r('bc') ? 'appointment',
          'a booking over a hold: no conflictingAppointment, no appointment');
INSERT INTO res VALUES ('hh', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-03-04 09:30+00', 45));
SELECT is(pg_temp.r('hh') ->> 'status', 'conflict', 'a hold over a hold: conflict');
SELECT is(pg_temp.r('hh') -> 'conflictingHold',
          jsonb_build_object('scheduledAt', '2030-03-04T10:00:00.000Z', 'durationMinutes', 60,
                             'expiresAt', pg_temp.r('hc') -> 'hold' ->> 'expiresAt'),
          'a hold over a hold: conflictingHold, no id, no contact');
SELECT ok(NOT pg_temp.r('hh') ? 'hold' AND NOT pg_temp.r('hh') ? 'conflictingAppointment',
          'a hold over a hold: no hold in the result');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002',
                        'dddddddd-0000-4000-8000-000000000002', '2030-03-04 11:10+00', NULL,
                        NULL) ->> 'status',
          'conflict', 'a booking whose buffer before reaches into a hold: conflict');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-hold-conflicts'),
          'conflicts with a hold wrote nothing');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-03-04 11:00+00', 30, NULL) ->> 'status',
          'booked', 'a booking touching the hold''s end: booked');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                       '2030-03-04 09:30+00', 30) ->> 'status',
          'held', 'a hold touching the hold''s start: held');
SELECT is(pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                       '2030-03-04 10:00+00', 60) ->> 'status',
          'held', 'the same time for another provider: held');
-- A confirmed appointment blocks a hold, and is named with its id.
INSERT INTO res VALUES ('ba', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001', NULL,
                                            '2030-03-04 13:00+00', 60, NULL));
INSERT INTO res VALUES ('ha', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-03-04 13:30+00', 60));
SELECT is(pg_temp.r('ha') - 'lockWaitUs',
          jsonb_build_object('status', 'conflict', 'conflictingAppointment',
                             jsonb_build_object('id', pg_temp.aid('ba'),
                                                'scheduledAt', '2030-03-04T13:00:00.000Z',
                                                'durationMinutes', 60)),
          'a hold over an appointment: conflictingAppointment with the id');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-03-04 13:15+00', 15, NULL) - 'lockWaitUs',
          jsonb_build_object('status', 'conflict', 'conflictingAppointment',
                             jsonb_build_object('id', pg_temp.aid('ba'),
                                                'scheduledAt', '2030-03-04T13:00:00.000Z',
                                                'durationMinutes', 60)),
          'a booking over an appointment: still conflictingAppointment with the id');
-- A reschedule onto a held time is refused the same way.
SELECT is(pg_temp.resched(pg_temp.aid('ba'), '2030-03-04 10:15+00') -> 'conflictingHold'
              ->> 'scheduledAt',
          '2030-03-04T10:00:00.000Z', 'a reschedule onto a held time: conflictingHold');
SELECT is(pg_temp.row_state(pg_temp.aid('ba')), 'confirmed',
          'the refused reschedule left the appointment confirmed');

-- check_availability ------------------------------------------------------------
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-03-04 10:15+00', 30, 0, 0, NULL),
          jsonb_build_object('available', false, 'conflictingHold',
                             jsonb_build_object('scheduledAt', '2030-03-04T10:00:00.000Z',
                                                'durationMinutes', 60,
                                                'expiresAt',
                                                pg_temp.r('hc') -> 'hold' ->> 'expiresAt')),
          'check: a held range is not available; conflictingHold, no id');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-03-04 13:15+00', 30, 0, 0, NULL) -> 'conflictingAppointment'
              ->> 'id',
          pg_temp.aid('ba')::text, 'check: an appointment is still conflictingAppointment with id');

-- Expired holds conflict with nothing ---------------------------------------------
CALL pg_temp.expire(pg_temp.hid('hc'));
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
                             'aaaaaaaa-0000-4000-8000-000000000001',
                             '2030-03-04 10:15+00', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'check: an expired hold is ignored');
SELECT is(pg_temp.row_state(pg_temp.hid('hc')), 'held/expired',
          'check removed nothing (the expired row is still there)');
INSERT INTO res VALUES ('bx', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000002', NULL,
                                            '2030-03-04 10:00+00', 60, NULL));
SELECT is(pg_temp.r('bx') ->> 'status', 'booked', 'a booking over an expired hold: booked');
SELECT is(pg_temp.r('bx') -> 'expiredHolds', '1'::jsonb,
          'a booking over an expired hold: "expiredHolds": 1');
SELECT is(pg_temp.row_state(pg_temp.hid('hc')), 'gone',
          'a booking over an expired hold: the expired row is gone');
SELECT ok(pg_temp.aid('bx') <> pg_temp.hid('hc'),
          'a booking over an expired hold: a new appointment, not the hold''s row');
SELECT ok(NOT pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                            'cccccccc-0000-4000-8000-000000000002', NULL,
                            '2030-03-04 15:00+00', 30, NULL) ? 'expiredHolds',
          'a booking that met no expired hold: no "expiredHolds"');
-- A hold over an expired hold.
INSERT INTO res VALUES ('hx1', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-03-06 10:00+00', 30));
CALL pg_temp.expire(pg_temp.hid('hx1'));
INSERT INTO res VALUES ('hx2', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-03-06 10:15+00', 30));
SELECT is(pg_temp.r('hx2') ->> 'status', 'held', 'a hold over an expired hold: held');
SELECT is(pg_temp.r('hx2') -> 'expiredHolds', '1'::jsonb,
          'a hold over an expired hold: "expiredHolds": 1');
SELECT is(pg_temp.row_state(pg_temp.hid('hx1')), 'gone',
          'a hold over an expired hold: the expired row is gone');
-- A reschedule onto an expired hold.
INSERT INTO res VALUES ('hx3', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-03-06 12:00+00', 30));
CALL pg_temp.expire(pg_temp.hid('hx3'));
SELECT is(pg_temp.resched(pg_temp.aid('ba'), '2030-03-06 12:00+00', 30,
                          'aaaaaaaa-0000-4000-8000-000000000002') ->> 'status',
          'rescheduled', 'a reschedule onto an expired hold: rescheduled');
SELECT is(pg_temp.row_state(pg_temp.hid('hx3')), 'gone',
          'a reschedule onto an expired hold: the expired row is gone');
-- The conflict found after removing expired holds is reported, with the count.
INSERT INTO res VALUES ('hx4', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-03-06 14:00+00', 30));
CALL pg_temp.expire(pg_temp.hid('hx4'));
INSERT INTO res VALUES ('bx4', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000002',
                                             'cccccccc-0000-4000-8000-000000000001', NULL,
                                             '2030-03-06 14:30+00', 30, NULL));
INSERT INTO res VALUES ('cx4', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000002',
                                             'cccccccc-0000-4000-8000-000000000002', NULL,
                                             '2030-03-06 14:00+00', 60, NULL));
SELECT is(pg_temp.r('cx4') -> 'conflictingAppointment' ->> 'id', pg_temp.aid('bx4')::text,
          'an expired hold and an appointment in the way: the appointment is the conflict');
SELECT is(pg_temp.r('cx4') -> 'expiredHolds', '1'::jsonb,
          '... and the expired hold removed on the way is counted');

-- free_slots --------------------------------------------------------------------
-- Dr Second works Wednesdays 09:00-12:00 Berlin (08:00-11:00 UTC in January).
INSERT INTO res VALUES ('hf', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                           '2030-01-02 08:30+00', 30));
SELECT is(ARRAY(SELECT bk_iso(slot_start)
                  FROM free_slots('11111111-1111-4111-8111-111111111111',
                                  'aaaaaaaa-0000-4000-8000-000000000002', '2030-01-02',
                                  30, 0, 0, 30, now())),
          ARRAY['2030-01-02T08:00:00.000Z', '2030-01-02T09:00:00.000Z',
                '2030-01-02T09:30:00.000Z', '2030-01-02T10:00:00.000Z',
                '2030-01-02T10:30:00.000Z'],
          'free slots: the held 09:30 Berlin is left out');
CALL pg_temp.expire(pg_temp.hid('hf'));
SELECT is(ARRAY(SELECT bk_iso(slot_start)
                  FROM free_slots('11111111-1111-4111-8111-111111111111',
                                  'aaaaaaaa-0000-4000-8000-000000000002', '2030-01-02',
                                  30, 0, 0, 30, now())),
          ARRAY['2030-01-02T08:00:00.000Z', '2030-01-02T08:30:00.000Z',
                '2030-01-02T09:00:00.000Z', '2030-01-02T09:30:00.000Z',
                '2030-01-02T10:00:00.000Z', '2030-01-02T10:30:00.000Z'],
          'free slots: an expired hold''s time is offered again');

-- release_hold ------------------------------------------------------------------
INSERT INTO res VALUES ('hr', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-04-01 10:00+00', 30));
INSERT INTO snap VALUES ('before-release', pg_temp.totals());
SELECT is(pg_temp.err(format($$ SELECT release_hold('22222222-2222-4222-8222-222222222222',
                                                    %L, 2000, 'admin_key:pgtap') $$,
                             pg_temp.hid('hr'))),
          'BK002', 'release: another organization''s hold: BK002');
SELECT is(pg_temp.row_state(pg_temp.hid('hr')), 'held/live',
          'release: another organization''s attempt left the hold untouched');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-release'),
          'release: the refused attempt wrote nothing');
SELECT is(release_hold('11111111-1111-4111-8111-111111111111', pg_temp.hid('hr'), 2000,
                       'public_key:pgtap'),
          '{"status": "released"}'::jsonb, 'release: {"status": "released"}');
SELECT is(pg_temp.row_state(pg_temp.hid('hr')), 'gone', 'release: the row is gone');
SELECT results_eq($$
    SELECT actor, action, entity_type::text, details FROM audit_logs
     WHERE entity_id = pg_temp.hid('hr') ORDER BY at, seq
    $$, $$
    VALUES ('admin_key:pgtap', 'hold.created', 'hold',
            jsonb_build_object('providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
                               'scheduledAt', '2030-04-01T10:00:00.000Z', 'durationMinutes', 30,
                               'expiresAt', pg_temp.r('hr') -> 'hold' ->> 'expiresAt')),
           ('public_key:pgtap', 'hold.released', 'hold',
            jsonb_build_object('providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
                               'scheduledAt', '2030-04-01T10:00:00.000Z'))
    $$, 'release: audit hold.created then hold.released, entity type hold, no personal data');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL,
                        '2030-04-01 10:00+00', 30, NULL) ->> 'status',
          'booked', 'release: the time is free at once');
SELECT throws_ok(format($$ SELECT release_hold('11111111-1111-4111-8111-111111111111', %L, 2000,
                                               'admin_key:pgtap') $$, pg_temp.hid('hr')),
                 'BK002', 'hold not found', 'release: a second release: BK002');
SELECT throws_ok($$ SELECT release_hold('11111111-1111-4111-8111-111111111111',
                                        'eeeeeeee-0000-4000-8000-000000000000', 2000,
                                        'admin_key:pgtap') $$,
                 'BK002', NULL, 'release: an unknown id: BK002');
SELECT throws_ok(format($$ SELECT release_hold('11111111-1111-4111-8111-111111111111', %L, 2000,
                                               'admin_key:pgtap') $$, pg_temp.aid('bx')),
                 'BK002', NULL, 'release: a confirmed appointment''s id: BK002');
SELECT is(pg_temp.row_state(pg_temp.aid('bx')), 'confirmed',
          'release: the appointment named is untouched');
INSERT INTO res VALUES ('hre', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                            '2030-04-01 12:00+00', 30));
CALL pg_temp.expire(pg_temp.hid('hre'));
INSERT INTO snap VALUES ('before-release-expired', pg_temp.totals());
SELECT is(release_hold('11111111-1111-4111-8111-111111111111', pg_temp.hid('hre'), 2000,
                       'admin_key:pgtap'),
          '{"status": "expired"}'::jsonb, 'release: an expired hold: {"status": "expired"}');
SELECT is(pg_temp.row_state(pg_temp.hid('hre')), 'gone', 'release: the expired row is gone');
SELECT is_empty(format($$ SELECT 1 FROM audit_logs WHERE entity_id = %L
                                                     AND action = 'hold.released' $$,
                       pg_temp.hid('hre')),
                'release: no hold.released entry for an expired hold');

-- holds_purge -------------------------------------------------------------------
CREATE TEMP TABLE expired_before AS SELECT count(*)::int AS n FROM appointments
 WHERE status = 'held' AND expires_at <= clock_timestamp();
SELECT is(holds_purge(100000), (SELECT n FROM expired_before),
          'purge: removes every expired hold earlier sections left (within the batch)');
SELECT is_empty($$ SELECT 1 FROM appointments
                    WHERE status = 'held' AND expires_at <= clock_timestamp() $$,
                'purge: no expired hold is left');
INSERT INTO res VALUES ('hp1', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-05-01 10:00+00', 30));
INSERT INTO res VALUES ('hp2', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-05-01 11:00+00', 30));
INSERT INTO res VALUES ('hp3', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000003', NULL,
                                            '2030-05-01 12:00+00', 30,
                                            p_org => '22222222-2222-4222-8222-222222222222'));
INSERT INTO res VALUES ('hp4', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000002', NULL,
                                            '2030-05-01 13:00+00', 30));
CALL pg_temp.expire(pg_temp.hid('hp1'));
CALL pg_temp.expire(pg_temp.hid('hp2'));
CALL pg_temp.expire(pg_temp.hid('hp3'));
CREATE TEMP TABLE live_before AS SELECT count(*)::int AS n FROM appointments
 WHERE status <> 'held' OR expires_at > clock_timestamp();
INSERT INTO snap VALUES ('before-purge', pg_temp.totals());
SELECT is(holds_purge(2), 2, 'purge: a batch of 2 removes 2 of the 3 expired holds');
SELECT is(holds_purge(10), 1, 'purge: the next batch removes the last one (any organization)');
SELECT is(holds_purge(10), 0, 'purge: then nothing is left to remove');
SELECT is(ARRAY[pg_temp.row_state(pg_temp.hid('hp1')), pg_temp.row_state(pg_temp.hid('hp2')),
                pg_temp.row_state(pg_temp.hid('hp3')), pg_temp.row_state(pg_temp.hid('hp4'))],
          ARRAY['gone', 'gone', 'gone', 'held/live'],
          'purge: the expired holds are gone, the unexpired one stays');
SELECT is((SELECT count(*)::int FROM appointments), (SELECT n FROM live_before),
          'purge: every appointment and unexpired hold stays');
SELECT is((SELECT regexp_replace(pg_temp.totals(), 'appointments=\d+ ', '')),
          (SELECT regexp_replace(v, 'appointments=\d+ ', '') FROM snap WHERE k = 'before-purge'),
          'purge: no audit, outbox or idempotency row written');

-- Converting a hold (book_appointment_with_lock with p_hold_id) -------------------
-- The same range: the hold's row becomes the appointment.
INSERT INTO res VALUES ('hv', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-03 10:00+00', 30));
INSERT INTO snap VALUES ('before-convert', pg_temp.totals());
INSERT INTO res VALUES ('bv', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001', NULL,
                                            '2030-06-03 10:00+00', 30, pg_temp.hid('hv'),
                                            p_notes => 'Alice Pgtapson called back'));
SELECT is(pg_temp.r('bv') ->> 'status', 'booked', 'convert: status booked');
SELECT is(pg_temp.r('bv') -> 'holdConverted', 'true'::jsonb, 'convert: "holdConverted": true');
SELECT is(pg_temp.aid('bv'), pg_temp.hid('hv'), 'convert: the same row (the hold''s id)');
SELECT results_eq($$
    SELECT status::text, expires_at, contact_id, scheduled_at, buffered_end, notes::text
      FROM appointments WHERE id = pg_temp.hid('hv')
    $$, $$
    VALUES ('confirmed', NULL::timestamptz, 'cccccccc-0000-4000-8000-000000000001'::uuid,
            '2030-06-03 10:00+00'::timestamptz, '2030-06-03 10:30+00'::timestamptz,
            'Alice Pgtapson called back')
    $$, 'convert: the row is confirmed, without expiry, with the booking''s contact and notes');
SELECT is(pg_temp.r('bv') -> 'appointment' ->> 'status', 'confirmed',
          'convert: the appointment answered is confirmed');
SELECT is(pg_temp.r('bv') -> 'appointment' ->> 'createdAt', bk_iso(now()),
          'convert: createdAt is the booking''s time');
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('bv') -> 'appointment') ORDER BY 1),
          ARRAY['cancelledAt', 'contactId', 'createdAt', 'durationMinutes', 'id', 'metadata',
                'notes', 'providerId', 'rescheduledTo', 'scheduledAt', 'serviceId', 'status'],
          'convert: the appointment object has exactly the API''s fields');
SELECT results_eq($$
    SELECT action, entity_type::text, details FROM audit_logs
     WHERE entity_id = pg_temp.hid('hv') AND action <> 'hold.created' ORDER BY action
    $$, $$
    VALUES ('appointment.booked', 'appointment',
            jsonb_build_object('providerId', 'aaaaaaaa-0000-4000-8000-000000000001',
                               'scheduledAt', '2030-06-03T10:00:00.000Z', 'durationMinutes', 30)),
           ('hold.converted', 'hold',
            jsonb_build_object('appointmentId', pg_temp.hid('hv')))
    $$, 'convert: audit appointment.booked and hold.converted (no personal data)');
SELECT results_eq($$
    SELECT event_type, payload -> 'appointment' FROM outbox_events
     WHERE entity_id = pg_temp.hid('hv')
    $$, $$
    VALUES ('appointment.booked', pg_temp.r('bv') -> 'appointment')
    $$, 'convert: one outbox event appointment.booked with the appointment');
SELECT is(pg_temp.totals(),
          (SELECT format('appointments=%s audit=%s outbox=%s idempotency=%s',
                         split_part(split_part(v, ' ', 1), '=', 2),
                         (split_part(split_part(v, ' ', 2), '=', 2))::int + 2,
                         (split_part(split_part(v, ' ', 3), '=', 2))::int + 1,
                         split_part(split_part(v, ' ', 4), '=', 2))
             FROM snap WHERE k = 'before-convert'),
          'convert: no new row; two audit entries and one outbox event');
SELECT throws_ok(format($$ SELECT release_hold('11111111-1111-4111-8111-111111111111', %L, 2000,
                                               'admin_key:pgtap') $$, pg_temp.hid('hv')),
                 'BK002', NULL, 'convert: a consumed hold cannot be released (BK002)');
SELECT is(pg_temp.row_state(pg_temp.hid('hv')), 'confirmed',
          'convert: the failed release left the appointment confirmed');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-06-03 10:00+00', 30, pg_temp.hid('hv')) - 'lockWaitUs',
          jsonb_build_object('status', 'conflict', 'conflictingAppointment',
                             jsonb_build_object('id', pg_temp.hid('hv'),
                                                'scheduledAt', '2030-06-03T10:00:00.000Z',
                                                'durationMinutes', 30)),
          'convert: booking again with the consumed hold id is an ordinary conflict');

-- A sub-range inside the hold converts; the rest of the hold is free again.
INSERT INTO res VALUES ('hs', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-03 12:00+00', 60));
INSERT INTO res VALUES ('bs', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001', NULL,
                                            '2030-06-03 12:15+00', 30, pg_temp.hid('hs')));
SELECT is(pg_temp.r('bs') ->> 'status', 'booked', 'convert a sub-range: booked');
SELECT is(pg_temp.r('bs') -> 'holdConverted', 'true'::jsonb,
          'convert a sub-range: "holdConverted": true');
SELECT is(pg_temp.r('bs') -> 'appointment' ->> 'scheduledAt', '2030-06-03T12:15:00.000Z',
          'convert a sub-range: the booked time');
SELECT is_empty($$ SELECT 1 FROM appointments
                    WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'
                      AND status = 'held' AND scheduled_at::date = '2030-06-03' $$,
                'convert a sub-range: no held row left that day');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-06-03 12:45+00', 15, NULL) ->> 'status',
          'booked', 'convert a sub-range: the rest of the hold (12:45-13:00) is free');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-06-03 12:00+00', 15, NULL) ->> 'status',
          'booked', 'convert a sub-range: the rest of the hold (12:00-12:15) is free');

-- A range outside the hold, or another provider: BK003, the hold untouched.
INSERT INTO res VALUES ('ho', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-04 10:00+00', 30));
INSERT INTO snap VALUES ('before-outside', pg_temp.totals());
SELECT throws_ok(format($$ SELECT pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                                'cccccccc-0000-4000-8000-000000000001', NULL,
                                                '2030-06-04 10:15+00', 30, %L) $$,
                        pg_temp.hid('ho')),
                 'BK003', NULL, 'convert: a range running past the hold''s end: BK003');
SELECT throws_ok(format($$ SELECT pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                                'cccccccc-0000-4000-8000-000000000001', NULL,
                                                '2030-06-04 09:45+00', 30, %L) $$,
                        pg_temp.hid('ho')),
                 'BK003', NULL, 'convert: a range starting before the hold: BK003');
SELECT throws_ok(format($$ SELECT pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                                'cccccccc-0000-4000-8000-000000000001', NULL,
                                                '2030-06-04 14:00+00', 30, %L) $$,
                        pg_temp.hid('ho')),
                 'BK003', NULL, 'convert: a range elsewhere that day: BK003');
SELECT throws_ok(format($$ SELECT pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000002',
                                                'cccccccc-0000-4000-8000-000000000001', NULL,
                                                '2030-06-04 10:00+00', 30, %L) $$,
                        pg_temp.hid('ho')),
                 'BK003', NULL, 'convert: the hold of another provider: BK003');
SELECT is(pg_temp.row_state(pg_temp.hid('ho')), 'held/live',
          'convert: the refused conversions left the hold held');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-outside'),
          'convert: the refused conversions wrote nothing');

-- The booking's buffers reach past the hold: converted when free, a
-- conflict (hold kept) when not.
INSERT INTO res VALUES ('hb', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-04 12:00+00', 30));
INSERT INTO res VALUES ('bb', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001',
                                            'dddddddd-0000-4000-8000-000000000001',
                                            '2030-06-04 12:00+00', NULL, pg_temp.hid('hb')));
SELECT is(pg_temp.r('bb') -> 'holdConverted', 'true'::jsonb,
          'convert with a buffer past the hold (free): converted');
SELECT results_eq($$ SELECT status::text, buffered_end, service_id FROM appointments
                      WHERE id = pg_temp.hid('hb') $$,
                  $$ VALUES ('confirmed', '2030-06-04 12:45+00'::timestamptz,
                             'dddddddd-0000-4000-8000-000000000001'::uuid) $$,
                  'convert with a buffer: the row takes the booking''s service and buffer');
INSERT INTO res VALUES ('hb2', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                            '2030-06-04 13:00+00', 30));
INSERT INTO res VALUES ('bb2', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                             'cccccccc-0000-4000-8000-000000000002', NULL,
                                             '2030-06-04 13:30+00', 30, NULL));
INSERT INTO snap VALUES ('before-buffer-conflict', pg_temp.totals());
INSERT INTO res VALUES ('cb2', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                             'cccccccc-0000-4000-8000-000000000001',
                                             'dddddddd-0000-4000-8000-000000000001',
                                             '2030-06-04 13:00+00', NULL, pg_temp.hid('hb2')));
SELECT is(pg_temp.r('cb2') - 'lockWaitUs',
          jsonb_build_object('status', 'conflict', 'conflictingAppointment',
                             jsonb_build_object('id', pg_temp.aid('bb2'),
                                                'scheduledAt', '2030-06-04T13:30:00.000Z',
                                                'durationMinutes', 30)),
          'convert with a buffer onto an appointment: a conflict naming it, not the own hold');
SELECT is(pg_temp.row_state(pg_temp.hid('hb2')), 'held/live',
          'convert with a buffer onto an appointment: the hold stays held');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-buffer-conflict'),
          'convert with a buffer onto an appointment: nothing written');

-- Expired, unknown and other organizations' holds: an ordinary booking.
INSERT INTO res VALUES ('hy', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-10 10:00+00', 30));
CALL pg_temp.expire(pg_temp.hid('hy'));
INSERT INTO res VALUES ('by', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001', NULL,
                                            '2030-06-10 10:00+00', 30, pg_temp.hid('hy')));
SELECT is(pg_temp.r('by') ->> 'status', 'booked', 'own expired hold: booked');
SELECT ok(NOT pg_temp.r('by') ? 'holdConverted', 'own expired hold: no "holdConverted"');
SELECT is(pg_temp.r('by') -> 'expiredHolds', '1'::jsonb,
          'own expired hold: removed on the way ("expiredHolds": 1)');
SELECT is(ARRAY[pg_temp.row_state(pg_temp.hid('hy')), pg_temp.row_state(pg_temp.aid('by'))],
          ARRAY['gone', 'confirmed'], 'own expired hold: gone; a new appointment');
SELECT is_empty(format($$ SELECT 1 FROM audit_logs WHERE entity_id = %L
                                                     AND action = 'hold.converted' $$,
                       pg_temp.hid('hy')),
                'own expired hold: no hold.converted entry');
INSERT INTO res VALUES ('bu', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001', NULL,
                                            '2030-06-10 11:00+00', 30,
                                            'eeeeeeee-0000-4000-8000-000000000000'));
SELECT is(pg_temp.r('bu') ->> 'status', 'booked', 'unknown hold id: booked');
SELECT ok(NOT pg_temp.r('bu') ? 'holdConverted', 'unknown hold id: no "holdConverted"');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-06-10 11:15+00', 30,
                        'eeeeeeee-0000-4000-8000-000000000000') -> 'conflictingAppointment'
              ->> 'id',
          pg_temp.aid('bu')::text, 'unknown hold id on a taken time: an ordinary conflict');
INSERT INTO res VALUES ('hz', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000003', NULL,
                                           '2030-06-10 12:00+00', 30,
                                           p_org => '22222222-2222-4222-8222-222222222222'));
CREATE TEMP TABLE hz_before AS SELECT * FROM appointments WHERE id = pg_temp.hid('hz');
INSERT INTO res VALUES ('bz', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                            'cccccccc-0000-4000-8000-000000000001', NULL,
                                            '2030-06-10 12:00+00', 30, pg_temp.hid('hz')));
SELECT is(pg_temp.r('bz') ->> 'status', 'booked', 'another organization''s hold id: booked');
SELECT ok(NOT pg_temp.r('bz') ? 'holdConverted' AND pg_temp.aid('bz') <> pg_temp.hid('hz'),
          'another organization''s hold id: not converted, a new appointment');
SELECT results_eq($$ SELECT * FROM appointments WHERE id = pg_temp.hid('hz') $$,
                  $$ SELECT * FROM hz_before $$,
                  'another organization''s hold: untouched');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000003',
                        'cccccccc-0000-4000-8000-000000000004', NULL,
                        '2030-06-10 12:00+00', 30, pg_temp.hid('hz'),
                        p_org => '22222222-2222-4222-8222-222222222222') -> 'holdConverted',
          'true'::jsonb, 'the other organization still converts its own hold');

-- With an idempotency key: the replay answers the same appointment and does
-- not claim a second conversion.
INSERT INTO res VALUES ('hk', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-11 10:00+00', 30));
INSERT INTO res VALUES ('bk1', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                             'cccccccc-0000-4000-8000-000000000001', NULL,
                                             '2030-06-11 10:00+00', 30, pg_temp.hid('hk'),
                                             p_key => 'pgtap-hold-1', p_hash => '\x01'));
INSERT INTO res VALUES ('bk2', pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                                             'cccccccc-0000-4000-8000-000000000001', NULL,
                                             '2030-06-11 10:00+00', 30, pg_temp.hid('hk'),
                                             p_key => 'pgtap-hold-1', p_hash => '\x01'));
SELECT ok(pg_temp.r('bk1') -> 'holdConverted' = 'true' AND pg_temp.aid('bk1') = pg_temp.hid('hk'),
          'idempotency: the first request converts the hold');
SELECT ok(pg_temp.r('bk2') -> 'replayed' = 'true'
          AND pg_temp.r('bk2') -> 'appointment' = pg_temp.r('bk1') -> 'appointment'
          AND NOT pg_temp.r('bk2') ? 'holdConverted',
          'idempotency: the replay answers the same appointment, without "holdConverted"');

-- A public booking converts a public hold (same rules as booking).
INSERT INTO res VALUES ('hq', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-06-10 08:00+00', 30, 300, true, 0,
                                           p_actor => 'public_key:pgtap'));
SELECT is(pg_temp.r('hq') ->> 'status', 'held', 'public: held inside the working hours');
SELECT is(pg_temp.bookh('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000002', NULL,
                        '2030-06-10 08:00+00', 30, pg_temp.hid('hq'), true,
                        p_actor => 'public_key:pgtap') -> 'holdConverted',
          'true'::jsonb, 'public: the booking converts the hold');

-- Holds write no outbox events and no personal data -------------------------------
SELECT is_empty($$ SELECT 1 FROM outbox_events WHERE event_type !~ '^appointment\.' $$,
                'holds wrote no outbox event of their own');
SELECT is_empty($$ SELECT 1 FROM outbox_events e
                    WHERE NOT EXISTS (SELECT 1 FROM audit_logs a
                                       WHERE a.entity_id = e.entity_id
                                         AND a.action = 'appointment.booked') $$,
                'every outbox event belongs to a booked appointment');
SELECT is_empty($$ SELECT 1 FROM outbox_events e JOIN appointments a ON a.id = e.entity_id
                    WHERE a.status = 'held' $$,
                'no outbox event names a held row');
SELECT is_empty($$ SELECT 1 FROM audit_logs
                    WHERE action LIKE 'hold.%' AND entity_type <> 'hold' $$,
                'every hold.* audit entry has entity type hold');
SELECT is(ARRAY(SELECT DISTINCT action FROM audit_logs WHERE entity_type = 'hold' ORDER BY 1),
          ARRAY['hold.converted', 'hold.created', 'hold.released'],
          'hold audit actions: created, released, converted');
SELECT is_empty($$ SELECT 1 FROM audit_logs WHERE entity_type = 'hold'
                    AND (details::text ~* '(alice|bob|carol|pgtapson|555000|example\.test|called back)'
                         OR details ?| ARRAY['contactId', 'notes', 'metadata', 'name', 'phone',
                                             'email']) $$,
                'hold audit entries hold no personal data');

-- Holds are not appointments -----------------------------------------------------
INSERT INTO res VALUES ('hl', pg_temp.hold('aaaaaaaa-0000-4000-8000-000000000001', NULL,
                                           '2030-07-01 10:00+00', 30));
SELECT ok((SELECT count(*) FROM appointments WHERE status = 'held'
                                              AND org_id = '11111111-1111-4111-8111-111111111111') > 0,
          'listing: there are held rows in the organization');
CREATE TEMP TABLE listed AS
EXECUTE appointment_list('11111111-1111-4111-8111-111111111111', NULL, NULL, NULL, NULL, NULL,
                         NULL, 500);
SELECT is_empty($$ SELECT 1 FROM listed l, jsonb_array_elements(l.coalesce::jsonb) e
                    WHERE e ->> 'status' = 'held'
                       OR (e ->> 'id')::uuid IN (SELECT id FROM appointments
                                                  WHERE status = 'held') $$,
                'listing: no hold in the appointment list');
SELECT is((SELECT jsonb_array_length(coalesce::jsonb) FROM listed),
          (SELECT count(*)::int FROM appointments
            WHERE org_id = '11111111-1111-4111-8111-111111111111' AND status <> 'held'),
          'listing: every appointment of the organization is listed');
CREATE TEMP TABLE got_hold AS
EXECUTE appointment_get('11111111-1111-4111-8111-111111111111', pg_temp.hid('hl'));
SELECT is_empty('SELECT * FROM got_hold', 'read by id: a hold is not found');
CREATE TEMP TABLE range_hold (provider_id, range_from, range_to, duration, before, after) AS
EXECUTE appointment_range('11111111-1111-4111-8111-111111111111', pg_temp.hid('hl'));
SELECT is_empty('SELECT * FROM range_hold',
                'the reschedule''s range lookup does not find a hold');
CREATE TEMP TABLE got_converted AS
EXECUTE appointment_get('11111111-1111-4111-8111-111111111111', pg_temp.hid('hv'));
SELECT is((SELECT bk_appointment_json::jsonb ->> 'status' FROM got_converted), 'confirmed',
          'read by id: a converted hold is an appointment like any other');

-- Cancel and reschedule do not know holds ------------------------------------------
SELECT throws_ok(format($$ SELECT cancel_appointment('11111111-1111-4111-8111-111111111111',
                                                     %L, NULL, 2000, 'admin_key:pgtap') $$,
                        pg_temp.hid('hl')),
                 'BK002', 'appointment not found', 'cancel a hold id: BK002');
SELECT throws_ok(format($$ SELECT pg_temp.resched(%L, '2030-07-01 14:00+00') $$,
                        pg_temp.hid('hl')),
                 'BK002', 'appointment not found', 'reschedule a hold id: BK002');
SELECT is(pg_temp.row_state(pg_temp.hid('hl')), 'held/live',
          'cancel and reschedule left the hold untouched');

-- The exclusion constraint covers holds ---------------------------------------------
CREATE FUNCTION pg_temp.raw(p_status text, p_at timestamptz, p_dur int,
                            p_expires timestamptz DEFAULT NULL) RETURNS text
LANGUAGE sql AS $$
SELECT pg_temp.err(format(
    $q$INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at,
                                 duration_minutes, ends_at, buffered_start, buffered_end,
                                 status, expires_at)
       VALUES ('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
               %L, %L::timestamptz, %s, %L::timestamptz + %s * interval '1 minute',
               %L::timestamptz, %L::timestamptz + %s * interval '1 minute', %L, %L)$q$,
    CASE WHEN p_status = 'held' THEN NULL ELSE 'cccccccc-0000-4000-8000-000000000001' END,
    p_at, p_dur, p_at, p_dur, p_at, p_at, p_dur, p_status, p_expires))
$$;
SELECT is(pg_temp.raw('confirmed', '2030-07-01 10:15+00', 30), '23P01',
          'constraint: a raw confirmed row over an unexpired hold: 23P01');
SELECT is(pg_temp.raw('held', '2030-07-01 09:45+00', 30, clock_timestamp() + interval '5 min'),
          '23P01', 'constraint: a raw held row over an unexpired hold: 23P01');
SELECT is(pg_temp.raw('held', '2030-07-01 10:30+00', 30, clock_timestamp() + interval '5 min'),
          'no error', 'constraint: a raw held row touching the hold: accepted');
SELECT is(pg_temp.raw('held', '2030-07-01 10:45+00', 30, clock_timestamp() + interval '5 min'),
          '23P01', 'constraint: two raw held rows overlapping: 23P01');
SELECT is(pg_temp.raw('held', '2030-07-02 10:00+00', 30, NULL), '23514',
          'constraint: a held row without expiry violates the CHECK');
SELECT is(pg_temp.raw('confirmed', '2030-07-02 10:00+00', 30, clock_timestamp()), '23514',
          'constraint: a confirmed row with an expiry violates the CHECK');
-- An expired hold still sits in the constraint until someone removes it
-- (which is why the functions remove it under their locks).
CALL pg_temp.expire(pg_temp.hid('hl'));
SELECT is(pg_temp.raw('confirmed', '2030-07-01 10:00+00', 30), '23P01',
          'constraint: an expired hold still blocks a raw insert until removed');

SELECT * FROM finish();
ROLLBACK;
