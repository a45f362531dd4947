-- Booking policies and manage links (API.md, "Booking policies",
-- "Self-service links for patients"; sql/30_directory.sql org_get and
-- org_update, sql/10_booking.sql bk_check_public_time and
-- bk_check_change_notice, sql/20_availability.sql free_slots, sql/65_manage.sql).
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(42);

\ir fixtures.psql
-- D: a Monday three weeks ahead in org1's zone (Europe/Berlin), where Dr
-- Default works Mon/Tue 09:00-17:00; pg_temp.t(n, '10:00') is that wall
-- time n days after D.
CREATE FUNCTION pg_temp.d(n int) RETURNS date LANGUAGE sql STABLE AS $$
SELECT (date_trunc('week', now() AT TIME ZONE 'Europe/Berlin') + interval '3 weeks')::date + n $$;
CREATE FUNCTION pg_temp.t(n int, w time) RETURNS timestamptz LANGUAGE sql STABLE AS $$
SELECT (pg_temp.d(n) + w) AT TIME ZONE 'Europe/Berlin' $$;
-- Books by the public rules, with a manage token's hash.
CREATE FUNCTION pg_temp.pbook(p_at timestamptz, p_hash bytea DEFAULT NULL,
                              p_contact uuid DEFAULT 'cccccccc-0000-4000-8000-000000000001')
RETURNS jsonb LANGUAGE sql AS $$
SELECT public.book_appointment_with_lock(
    '11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001', p_contact,
    NULL, p_at, 30, NULL, NULL, pg_temp.keys(pg_temp.floor15(p_at), pg_temp.ceil15(p_at + interval '30 minutes')),
    pg_temp.floor15(p_at), pg_temp.ceil15(p_at + interval '30 minutes'), 2000,
    'public_key:pgtap', NULL, NULL, true, NULL, p_hash) $$;
CREATE FUNCTION pg_temp.slots(p_date date, p_public boolean) RETURNS int LANGUAGE sql AS $$
SELECT count(*)::int FROM public.free_slots('11111111-1111-4111-8111-111111111111',
    'aaaaaaaa-0000-4000-8000-000000000001', p_date, 30, 0, 0, 30, now(), p_public) $$;
CREATE FUNCTION pg_temp.h(p text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT sha256(p::bytea) $$;

-- Organization and policies ------------------------------------------------------
SELECT is(org_get('11111111-1111-4111-8111-111111111111') -> 'policies',
          '{"minimumNoticeMinutes": 0, "bookingHorizonDays": 0, "cancellationNoticeHours": 0}',
          'policies default to 0');
SELECT is(org_get('11111111-1111-4111-8111-111111111111') ->> 'defaultProviderId',
          'aaaaaaaa-0000-4000-8000-000000000001', 'the organization names its default provider');
SELECT is(pg_temp.err($$ SELECT org_update('11111111-1111-4111-8111-111111111111', NULL,
                         '{"minimumNoticeMinutes": 43201}', 'admin_key:pgtap') $$),
          'BK001 policies.minimumNoticeMinutes', 'a notice past 30 days is refused, naming it');
SELECT is(pg_temp.err($$ SELECT org_update('11111111-1111-4111-8111-111111111111', NULL,
                         '{"bookingHorizonDays": 1.5}', 'admin_key:pgtap') $$),
          'BK001 policies.bookingHorizonDays', 'a fraction is refused');
SELECT is(pg_temp.err($$ SELECT org_update('11111111-1111-4111-8111-111111111111', NULL,
                         '{"cancellationNoticeHours": "5"}', 'admin_key:pgtap') $$),
          'BK001 policies.cancellationNoticeHours', 'a string is refused');
SELECT is(pg_temp.err($$ SELECT org_update('11111111-1111-4111-8111-111111111111', NULL,
                         '{"minimumNoticeMinutes": 5, "noShowFee": 5}', 'admin_key:pgtap') $$),
          'BK001 policies.noShowFee', 'an unknown policy is refused, and nothing changes');
SELECT is(org_get('11111111-1111-4111-8111-111111111111') -> 'policies' -> 'minimumNoticeMinutes',
          '0', '... the good one in the same request included');
SELECT is(org_update('11111111-1111-4111-8111-111111111111', NULL,
                     '{"minimumNoticeMinutes": 43200}', 'admin_key:pgtap') -> 'policies',
          '{"minimumNoticeMinutes": 43200, "bookingHorizonDays": 0, "cancellationNoticeHours": 0}',
          'a PATCH changes only the policies it names');
SELECT is((SELECT count(*)::int FROM audit_logs
            WHERE org_id = '11111111-1111-4111-8111-111111111111'
              AND action = 'organization.updated'), 1, 'and is audited once (failures are not)');

-- The minimum notice: 30 days. D + 1 (about 22 days ahead) is too soon.
SELECT is(pg_temp.err($$ SELECT pg_temp.pbook(pg_temp.t(1, '10:00')) $$), 'BK001 scheduledAt',
          'notice: a public booking sooner than the notice is refused');
SELECT is((SELECT count(*)::int FROM appointments WHERE scheduled_at = pg_temp.t(1, '10:00')), 0,
          'notice: ... and writes nothing');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001',
                       NULL, pg_temp.t(1, '10:00'), 30) ->> 'status', 'booked',
          'notice: the admin key is not bound by it');
SELECT is(pg_temp.slots(pg_temp.d(1), true), 0, 'notice: no public free slot that day');
SELECT is(pg_temp.slots(pg_temp.d(1), false), 15, 'notice: the admin key sees the day (16 less the one booked)');
SELECT is(pg_temp.pbook(pg_temp.t(35, '10:00')) ->> 'status', 'booked',
          'notice: five weeks ahead a public booking is fine');
SELECT is(pg_temp.err($$ SELECT hold_slot('11111111-1111-4111-8111-111111111111',
                         'aaaaaaaa-0000-4000-8000-000000000001', NULL, pg_temp.t(8, '10:00'), 30, 300,
                         pg_temp.keys(pg_temp.t(8, '10:00'), pg_temp.t(8, '10:30')),
                         pg_temp.t(8, '10:00'), pg_temp.t(8, '10:30'), 2000, 'public_key:pgtap',
                         true, 0) $$), 'BK001 scheduledAt', 'notice: so is a public hold');

-- The horizon: 10 days, no notice. D is about 3 weeks ahead: too far.
SELECT org_update('11111111-1111-4111-8111-111111111111', NULL,
                  '{"minimumNoticeMinutes": 0, "bookingHorizonDays": 10}', 'admin_key:pgtap');
SELECT is(pg_temp.err($$ SELECT pg_temp.pbook(pg_temp.t(0, '11:00')) $$), 'BK001 scheduledAt',
          'horizon: a public booking past the horizon is refused');
SELECT is(pg_temp.slots(pg_temp.d(0), true), 0, 'horizon: no public free slot that day');
SELECT ok(pg_temp.slots(pg_temp.d(0), false) > 0, 'horizon: the admin key sees it');
SELECT ok(pg_temp.slots((date_trunc('week', now() AT TIME ZONE 'Europe/Berlin')
                         + interval '1 week')::date, true) > 0,
          'horizon: next Monday (under 10 days ahead) has public slots');
SELECT org_update('11111111-1111-4111-8111-111111111111', NULL, '{"bookingHorizonDays": 0}',
                  'admin_key:pgtap');

-- Manage tokens -------------------------------------------------------------------
INSERT INTO res VALUES ('m', pg_temp.pbook(pg_temp.t(0, '12:00'), pg_temp.h('token-one')));
SELECT is(pg_temp.r('m') ->> 'status', 'booked', 'manage: a public booking with a token');
SELECT is((SELECT count(*)::int FROM manage_tokens WHERE appointment_id = pg_temp.aid('m')), 1,
          'manage: its token is stored (hashed) with it');
SELECT is(manage_get(pg_temp.h('token-one')) -> 'appointment' ->> 'id', pg_temp.aid('m')::text,
          'manage: the token opens its appointment');
SELECT is(manage_get(pg_temp.h('token-one')) -> 'organization',
          '{"name": "Test Clinic", "timezone": "Europe/Berlin"}', 'manage: and names the practice');
SELECT ok(NOT (manage_get(pg_temp.h('token-one'))::text ~ 'Alice|5550001111|example'),
          'manage: nothing about the contact');
SELECT is(pg_temp.err($$ SELECT manage_get(pg_temp.h('no-such-token')) $$), 'BK002',
          'manage: an unknown token is not found');

SELECT is(manage_cancel(pg_temp.h('token-one'), 2000) -> 'appointment' ->> 'status', 'cancelled',
          'manage: cancel through the token');
SELECT is(pg_temp.err($$ SELECT manage_get(pg_temp.h('token-one')) $$), 'BK002',
          'manage: the token of a cancelled appointment works no more');
SELECT is((SELECT actor FROM audit_logs WHERE entity_id = pg_temp.aid('m')
             AND action = 'appointment.cancelled'), 'manage_link',
          'manage: the cancel is audited as the manage link''s');

-- Reschedule through a token: the public rules, a new token, the old one dead.
INSERT INTO res VALUES ('m2', pg_temp.pbook(pg_temp.t(1, '12:00'), pg_temp.h('token-two')));
SELECT is((SELECT count(*)::int FROM manage_resolve(pg_temp.h('token-two'))), 1,
          'manage: a working token resolves to its appointment');
SELECT is(pg_temp.err($$ SELECT public.reschedule_appointment_with_lock(
              '11111111-1111-4111-8111-111111111111', pg_temp.aid('m2'), NULL,
              pg_temp.t(1, '20:00'), NULL,
              pg_temp.keys(pg_temp.t(1, '12:00'), pg_temp.t(1, '20:30')), pg_temp.t(1, '12:00'),
              pg_temp.t(1, '20:30'), 2000, 'manage_link', NULL, NULL, true,
              pg_temp.h('token-three')) $$),
          'BK001 scheduledAt', 'manage: a move outside working hours is refused (public rules)');
INSERT INTO res VALUES ('m3', public.reschedule_appointment_with_lock(
    '11111111-1111-4111-8111-111111111111', pg_temp.aid('m2'), NULL, pg_temp.t(1, '14:00'), NULL,
    pg_temp.keys(pg_temp.t(1, '12:00'), pg_temp.t(1, '14:30')), pg_temp.t(1, '12:00'),
    pg_temp.t(1, '14:30'), 2000, 'manage_link', NULL, NULL, true, pg_temp.h('token-three')));
SELECT is(pg_temp.r('m3') ->> 'status', 'rescheduled', 'manage: a move inside the rules');
SELECT is(pg_temp.err($$ SELECT manage_get(pg_temp.h('token-two')) $$), 'BK002',
          'manage: the old token works no more');
SELECT is(manage_get(pg_temp.h('token-three')) -> 'appointment' ->> 'id', pg_temp.aid('m3')::text,
          'manage: the new token opens the new appointment');

-- The cancellation notice: the next Monday or Tuesday at noon is under
-- 168 hours away.
INSERT INTO res VALUES ('soon', pg_temp.pbook(
    (SELECT (d + time '12:00') AT TIME ZONE 'Europe/Berlin'
       FROM generate_series((now() AT TIME ZONE 'Europe/Berlin')::date + 1,
                            (now() AT TIME ZONE 'Europe/Berlin')::date + 7, interval '1 day') g,
            LATERAL (SELECT g::date AS d) x
      WHERE extract(isodow FROM d) IN (1, 2) ORDER BY d LIMIT 1),
    pg_temp.h('token-soon')));
SELECT is(pg_temp.r('soon') ->> 'status', 'booked', 'setup: a public booking within the week');
SELECT org_update('11111111-1111-4111-8111-111111111111', NULL, '{"cancellationNoticeHours": 168}',
                  'admin_key:pgtap');
SELECT is(pg_temp.err($$ SELECT manage_cancel(pg_temp.h('token-soon'), 2000) $$), 'BK003',
          'change notice: a cancel through the link within the notice is refused');
SELECT is(manage_get(pg_temp.h('token-soon')) -> 'appointment' ->> 'status', 'confirmed',
          'change notice: ... and changes nothing');
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('soon'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status', 'cancelled',
          'change notice: the admin key cancels anyway');
SELECT manage_issue('11111111-1111-4111-8111-111111111111', pg_temp.aid('m3'), pg_temp.h('token-four'));
SELECT is(manage_get(pg_temp.h('token-four')) -> 'appointment' ->> 'id', pg_temp.aid('m3')::text,
          'manage: a further token for the same appointment works too');
SELECT ok(NOT EXISTS (SELECT 1 FROM manage_tokens
                       WHERE token_hash IN (pg_temp.h('token-one'), pg_temp.h('token-two'),
                                            pg_temp.h('token-soon'))),
          'manage: a cancel or a move deletes the appointment''s tokens at once');
SELECT is((SELECT valid_until FROM manage_tokens WHERE token_hash = pg_temp.h('token-three')),
          (SELECT scheduled_at FROM appointments WHERE id = pg_temp.aid('m3')),
          'manage: a token is kept until its appointment starts');
-- As if token-four's appointment had begun.
UPDATE manage_tokens SET valid_until = now() - interval '1 second'
 WHERE token_hash = pg_temp.h('token-four');
SELECT outbox_purge(30, 1000);
SELECT is((SELECT array_agg(token_hash = pg_temp.h('token-three')) FROM manage_tokens
            WHERE token_hash IN (pg_temp.h('token-three'), pg_temp.h('token-four'))), '{t}',
          'purge: a token whose time has passed is removed, a working one stays');

SELECT * FROM finish();
ROLLBACK;
