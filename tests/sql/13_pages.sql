-- The pages' database side (docs/web.md, "The page key", "API the pages use";
-- migrations/0015_page_keys.sql, sql/30_directory.sql page_config,
-- sql/20_availability.sql free_slot_days): one page key per organization,
-- made from the first candidate and stored in clear beside its hash; the
-- config of the booking page by organization and of the manage page by a
-- working token's hash; the kind and page_key checks; free_slot_days against
-- free_slots, across Europe/London's daylight-saving changes, and with the
-- policies for p_public.
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- One transaction, rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(52);

\ir fixtures.psql
-- D: a Monday three weeks ahead in org1's zone (Europe/Berlin), where Dr
-- Default works Mon/Tue 09:00-17:00; pg_temp.t(n, '10:00') is that wall
-- time n days after D.
CREATE FUNCTION pg_temp.d(n int) RETURNS date LANGUAGE sql STABLE AS $$
SELECT (date_trunc('week', now() AT TIME ZONE 'Europe/Berlin') + interval '3 weeks')::date + n $$;
CREATE FUNCTION pg_temp.t(n int, w time) RETURNS timestamptz LANGUAGE sql STABLE AS $$
SELECT (pg_temp.d(n) + w) AT TIME ZONE 'Europe/Berlin' $$;
CREATE FUNCTION pg_temp.h(p text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$ SELECT sha256(p::bytea) $$;
-- A public booking on Dr Default with a manage token's hash (and a service).
CREATE FUNCTION pg_temp.pbook(p_at timestamptz, p_hash bytea, p_service uuid DEFAULT NULL,
                              p_duration int DEFAULT 30)
RETURNS jsonb LANGUAGE sql AS $$
SELECT public.book_appointment_with_lock(
    '11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', p_service, p_at, p_duration, NULL, NULL,
    pg_temp.keys(pg_temp.floor15(p_at), pg_temp.ceil15(p_at + interval '75 minutes')),
    pg_temp.floor15(p_at), pg_temp.ceil15(p_at + interval '75 minutes'), 2000,
    'public_key:pgtap', NULL, NULL, true, NULL, p_hash) $$;
-- The page keys of an organization (revoked ones included).
CREATE FUNCTION pg_temp.page_keys(p_org uuid) RETURNS int LANGUAGE sql AS $$
SELECT count(*)::int FROM public.api_keys WHERE org_id = p_org AND kind = 'page' $$;
-- free_slot_days as (date, count) rows against count(*) of free_slots per date.
CREATE FUNCTION pg_temp.days(p_org uuid, p_prov uuid, p_from date, p_to date, p_dur int,
                             p_before int, p_after int, p_step int, p_now timestamptz,
                             p_public boolean)
RETURNS TABLE (day date, n int) LANGUAGE sql AS $$
SELECT day, slot_count FROM public.free_slot_days(p_org, p_prov, p_from, p_to, p_dur, p_before,
                                                  p_after, p_step, p_now, p_public) $$;
CREATE FUNCTION pg_temp.slots(p_org uuid, p_prov uuid, p_from date, p_to date, p_dur int,
                              p_before int, p_after int, p_step int, p_now timestamptz,
                              p_public boolean)
RETURNS TABLE (day date, n int) LANGUAGE sql AS $$
SELECT d::date, (SELECT count(*)::int FROM public.free_slots(p_org, p_prov, d::date, p_dur, p_before,
                                                          p_after, p_step, p_now, p_public))
  FROM generate_series(p_from::timestamp, p_to::timestamp, interval '1 day') d ORDER BY 1 $$;
CREATE FUNCTION pg_temp.n(p_org uuid, p_prov uuid, p_day date, p_dur int, p_step int,
                          p_now timestamptz, p_public boolean) RETURNS int LANGUAGE sql AS $$
SELECT n FROM pg_temp.days(p_org, p_prov, p_day, p_day, p_dur, 0, 0, p_step, p_now, p_public) $$;

-- A practice in Europe/London with a provider open all day, every day.
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('33333333-3333-4333-8333-333333333333', 'London Clinic', 'Europe/London',
     sha256('pgtap-vapi-secret-3'));
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000009', '33333333-3333-4333-8333-333333333333', 'Dr Always',
     '{"mon":[["00:00","23:59"]],"tue":[["00:00","23:59"]],"wed":[["00:00","23:59"]],
       "thu":[["00:00","23:59"]],"fri":[["00:00","23:59"]],"sat":[["00:00","23:59"]],
       "sun":[["00:00","23:59"]]}', true);

-- The booking page's config -----------------------------------------------------
SELECT is(pg_temp.page_keys('11111111-1111-4111-8111-111111111111'), 0, 'no page key before a page is served');
INSERT INTO res VALUES ('c1', page_config('11111111-1111-4111-8111-111111111111', NULL,
                                          'bk_page_pgtap_one', pg_temp.h('bk_page_pgtap_one')));
SELECT is(pg_temp.r('c1'),
          '{"orgId": "11111111-1111-4111-8111-111111111111", "name": "Test Clinic",
            "timezone": "Europe/Berlin", "defaultProviderId": "aaaaaaaa-0000-4000-8000-000000000001",
            "publicKey": "bk_page_pgtap_one"}'::jsonb,
          'page_config by organization: {orgId, name, timezone, defaultProviderId, publicKey}, the candidate as the key');
SELECT is(pg_temp.page_keys('11111111-1111-4111-8111-111111111111'), 1, 'one api_keys row of kind page is made');
SELECT is((SELECT page_key FROM api_keys WHERE org_id = '11111111-1111-4111-8111-111111111111' AND kind = 'page'),
          'bk_page_pgtap_one', '... holding the key in clear');
SELECT is((SELECT key_hash FROM api_keys WHERE org_id = '11111111-1111-4111-8111-111111111111' AND kind = 'page'),
          pg_temp.h('bk_page_pgtap_one'), '... and its hash');
SELECT ok((SELECT revoked_at IS NULL FROM api_keys WHERE org_id = '11111111-1111-4111-8111-111111111111' AND kind = 'page'),
          '... unrevoked');
SELECT is((SELECT k.kind || ' ' || o.id FROM api_keys k JOIN organizations o ON o.id = k.org_id
            WHERE k.key_hash = pg_temp.h('bk_page_pgtap_one') AND k.revoked_at IS NULL),
          'page 11111111-1111-4111-8111-111111111111', 'a request''s key hash finds it, of kind page');

SELECT is(page_config('11111111-1111-4111-8111-111111111111', NULL, 'bk_page_pgtap_two',
                      pg_temp.h('bk_page_pgtap_two')) ->> 'publicKey',
          'bk_page_pgtap_one', 'a second call with another candidate answers the first key');
SELECT is(pg_temp.page_keys('11111111-1111-4111-8111-111111111111'), 1, '... and inserts nothing');
SELECT ok(NOT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = pg_temp.h('bk_page_pgtap_two')
                         OR page_key = 'bk_page_pgtap_two'),
          '... the unused candidate is stored nowhere');

SELECT is(page_config('eeeeeeee-0000-4000-8000-000000000000', NULL, 'bk_page_pgtap_x',
                      pg_temp.h('bk_page_pgtap_x')), NULL, 'an unknown organization → NULL');
SELECT ok(NOT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = pg_temp.h('bk_page_pgtap_x')),
          '... and no key made');

INSERT INTO res VALUES ('c2', page_config('22222222-2222-4222-8222-222222222222', NULL,
                                          'bk_page_pgtap_org2', pg_temp.h('bk_page_pgtap_org2')));
SELECT is(pg_temp.r('c2') ->> 'publicKey', 'bk_page_pgtap_org2', 'another organization gets its own key');
SELECT is(pg_temp.r('c2') ->> 'name', 'Other Clinic', '... in its own config');
SELECT is(pg_temp.page_keys('22222222-2222-4222-8222-222222222222'), 1, '... one row');
SELECT is(page_config('11111111-1111-4111-8111-111111111111', NULL, 'bk_page_pgtap_three',
                      pg_temp.h('bk_page_pgtap_three')) ->> 'publicKey',
          'bk_page_pgtap_one', 'the first organization''s key stays its own');
SELECT is(page_config('11111111-1111-4111-8111-111111111111', NULL, 'bk_page_pgtap_one',
                      pg_temp.h('bk_page_pgtap_one')) ->> 'publicKey',
          'bk_page_pgtap_one', 'the same candidate again changes nothing');

-- The manage page's config ----------------------------------------------------------
INSERT INTO res VALUES ('m1', pg_temp.pbook(pg_temp.t(0, '10:00'), pg_temp.h('tok-plain')));
INSERT INTO res VALUES ('m2', pg_temp.pbook(pg_temp.t(0, '13:00'), pg_temp.h('tok-service'),
                                            'dddddddd-0000-4000-8000-000000000003', NULL));
SELECT is(pg_temp.r('m1') ->> 'status', 'booked', 'a public booking with a token');
SELECT is(pg_temp.r('m2') ->> 'status', 'booked', 'a public booking of a service with a token');
SELECT is(page_config(NULL, pg_temp.h('tok-plain'), 'bk_page_pgtap_m', pg_temp.h('bk_page_pgtap_m')),
          '{"orgId": "11111111-1111-4111-8111-111111111111", "name": "Test Clinic",
            "timezone": "Europe/Berlin", "defaultProviderId": "aaaaaaaa-0000-4000-8000-000000000001",
            "publicKey": "bk_page_pgtap_one", "providerId": "aaaaaaaa-0000-4000-8000-000000000001",
            "serviceId": null, "durationMinutes": 30}'::jsonb,
          'page_config by a working token''s hash: the organization''s config with its page key, plus providerId, serviceId, durationMinutes');
SELECT is(page_config(NULL, pg_temp.h('tok-service'), 'bk_page_pgtap_m', pg_temp.h('bk_page_pgtap_m'))
              - 'orgId' - 'name' - 'timezone' - 'defaultProviderId',
          '{"publicKey": "bk_page_pgtap_one", "providerId": "aaaaaaaa-0000-4000-8000-000000000001",
            "serviceId": "dddddddd-0000-4000-8000-000000000003", "durationMinutes": 45}'::jsonb,
          'a booking of a service: its id and length');
SELECT is(pg_temp.page_keys('11111111-1111-4111-8111-111111111111'), 1, 'the manage page made no second key');
SELECT is(page_config(NULL, pg_temp.h('no-such-token'), 'bk_page_pgtap_m', pg_temp.h('bk_page_pgtap_m')),
          NULL, 'an unknown token hash → NULL');
SELECT ok(NOT EXISTS (SELECT 1 FROM api_keys WHERE key_hash = pg_temp.h('bk_page_pgtap_m')),
          'no candidate of the manage pages was stored');
SELECT is(manage_cancel(pg_temp.h('tok-plain'), 2000) -> 'appointment' ->> 'status', 'cancelled',
          'cancel through the token');
SELECT is(page_config(NULL, pg_temp.h('tok-plain'), 'bk_page_pgtap_m', pg_temp.h('bk_page_pgtap_m')),
          NULL, 'the token of a cancelled appointment → NULL');
SELECT is(pg_temp.resched(pg_temp.aid('m2'), pg_temp.t(1, '13:00')) ->> 'status', 'rescheduled',
          'the admin moves the service booking');
SELECT is(page_config(NULL, pg_temp.h('tok-service'), 'bk_page_pgtap_m', pg_temp.h('bk_page_pgtap_m')),
          NULL, 'the token of a moved appointment → NULL');
-- A token of an organization without a page key yet makes one.
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('44444444-4444-4444-8444-444444444444', 'Fresh Clinic', 'UTC', sha256('pgtap-vapi-secret-4'));
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000008', '44444444-4444-4444-8444-444444444444', 'Dr Fresh',
     '{"mon":[["09:00","17:00"]]}', true);
INSERT INTO contacts (id, org_id, name) VALUES
    ('cccccccc-0000-4000-8000-000000000008', '44444444-4444-4444-8444-444444444444', 'Dana Fresh');
INSERT INTO res VALUES ('f', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000008',
                        'cccccccc-0000-4000-8000-000000000008', NULL, pg_temp.t(7, '10:00'), 20,
                        p_org => '44444444-4444-4444-8444-444444444444'));
INSERT INTO res SELECT 'issued', '{}' FROM (SELECT manage_issue('44444444-4444-4444-8444-444444444444', pg_temp.aid('f'), pg_temp.h('tok-fresh'))) x;
SELECT is(page_config(NULL, pg_temp.h('tok-fresh'), 'bk_page_pgtap_fresh', pg_temp.h('bk_page_pgtap_fresh'))
              - 'orgId' - 'name' - 'timezone' - 'defaultProviderId',
          '{"publicKey": "bk_page_pgtap_fresh", "providerId": "aaaaaaaa-0000-4000-8000-000000000008",
            "serviceId": null, "durationMinutes": 20}'::jsonb,
          'the first manage page of an organization makes its page key');
SELECT is(page_config('44444444-4444-4444-8444-444444444444', NULL, 'bk_page_pgtap_y',
                      pg_temp.h('bk_page_pgtap_y')) ->> 'publicKey',
          'bk_page_pgtap_fresh', '... which its booking page shows');

-- The checks ------------------------------------------------------------------------
SELECT is(pg_temp.err($$ INSERT INTO api_keys (org_id, kind, key_hash)
                         VALUES ('22222222-2222-4222-8222-222222222222', 'page', sha256('k1'::bytea)) $$),
          '23514', 'a page key without page_key is refused');
SELECT is(pg_temp.err($$ INSERT INTO api_keys (org_id, kind, key_hash, page_key)
                         VALUES ('22222222-2222-4222-8222-222222222222', 'admin', sha256('k2'::bytea), 'k2') $$),
          '23514', 'an admin key with a page_key is refused');
SELECT is(pg_temp.err($$ INSERT INTO api_keys (org_id, kind, key_hash, page_key)
                         VALUES ('22222222-2222-4222-8222-222222222222', 'public', sha256('k3'::bytea), 'k3') $$),
          '23514', 'a public key with a page_key is refused');
SELECT is(pg_temp.err($$ INSERT INTO api_keys (org_id, kind, key_hash, page_key)
                         VALUES ('22222222-2222-4222-8222-222222222222', 'other', sha256('k4'::bytea), NULL) $$),
          '23514', 'an unknown kind is refused');
SELECT is(pg_temp.err($$ INSERT INTO api_keys (org_id, kind, key_hash, page_key)
                         VALUES ('22222222-2222-4222-8222-222222222222', 'page', sha256('k5'::bytea), 'k5') $$),
          '23505', 'a second unrevoked page key of an organization is refused');
SELECT is(pg_temp.err($$ INSERT INTO api_keys (org_id, kind, key_hash)
                         VALUES ('22222222-2222-4222-8222-222222222222', 'admin', sha256('k6'::bytea)) $$),
          'no error', 'an admin key without page_key is fine');
UPDATE api_keys SET revoked_at = now() WHERE org_id = '22222222-2222-4222-8222-222222222222' AND kind = 'page';
SELECT is(page_config('22222222-2222-4222-8222-222222222222', NULL, 'bk_page_pgtap_org2b',
                      pg_temp.h('bk_page_pgtap_org2b')) ->> 'publicKey',
          'bk_page_pgtap_org2b', 'after its page key was revoked, the next page makes a new one');
SELECT is(pg_temp.page_keys('22222222-2222-4222-8222-222222222222'), 2, '... beside the revoked one');

-- free_slot_days ------------------------------------------------------------------
-- Europe/London, 30-minute starts every 15 minutes in 00:00-23:59: 94 a day;
-- clocks go forward on 2026-03-29 (01:00-01:45 do not exist: 90) and back on
-- 2026-10-25 (01:00-01:45 happen twice: 98). "Now" is fixed before them.
SELECT results_eq(
    $$ SELECT * FROM pg_temp.days('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                  '2026-03-27', '2026-03-31', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    $$ SELECT * FROM pg_temp.slots('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                   '2026-03-27', '2026-03-31', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    'spring forward: each date''s count is count(*) of free_slots');
SELECT results_eq(
    $$ SELECT * FROM pg_temp.days('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                  '2026-10-23', '2026-10-27', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    $$ SELECT * FROM pg_temp.slots('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                   '2026-10-23', '2026-10-27', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    'fall back: each date''s count is count(*) of free_slots');
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                  '2026-03-28', '2026-03-30', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    ARRAY[94, 90, 94], 'spring forward: 94, 90 on 2026-03-29, 94');
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                  '2026-10-24', '2026-10-26', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    ARRAY[94, 98, 94], 'fall back: 94, 98 on 2026-10-25, 94');
SELECT results_eq(
    $$ SELECT day FROM pg_temp.days('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                                    '2026-12-28', '2027-01-03', 30, 0, 0, 15, '2026-01-01 00:00Z', false) $$,
    $$ SELECT d::date FROM generate_series('2026-12-28'::timestamp, '2027-01-03', '1 day') d $$,
    'one row per date from p_from to p_to inclusive, in order (across a year''s end)');
SELECT is(pg_temp.n('33333333-3333-4333-8333-333333333333', 'aaaaaaaa-0000-4000-8000-000000000009',
                    '2026-03-29', 30, 15, '2026-03-29 12:00Z', false), 42,
          'times before p_now are left out (13:00 BST onwards: 13:00..23:15)');

-- Org1 (Europe/Berlin), Dr Default Mon/Tue 09:00-17:00, D a Monday three weeks ahead:
-- a booking and a service with buffers, against free_slots.
INSERT INTO res VALUES ('b', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL, pg_temp.t(0, '15:00'), 60));
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  pg_temp.d(0), pg_temp.d(6), 30, 0, 0, 30, now(), false) $$,
    ARRAY[14, 14, 0, 0, 0, 0, 0],
    'a week of Dr Default in half-hour steps: Monday less 15:00 and 15:30 (booked 15:00-16:00; 10:00 was cancelled, 13:00 moved), Tuesday less 13:00 and 13:30 (the moved 13:00-13:45), closed the rest');
SELECT results_eq(
    $$ SELECT * FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  pg_temp.d(0), pg_temp.d(13), 30, 0, 15, 15, now(), false) $$,
    $$ SELECT * FROM pg_temp.slots('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                   pg_temp.d(0), pg_temp.d(13), 30, 0, 15, 15, now(), false) $$,
    'with a 15-minute buffer after: free_slot_days is count(*) of free_slots for two weeks');

-- p_public: the policies cut. Horizon 10 days: D (about three weeks ahead) is past it.
INSERT INTO res VALUES ('p1', org_update('11111111-1111-4111-8111-111111111111', NULL,
                        '{"minimumNoticeMinutes": 0, "bookingHorizonDays": 10}', 'admin_key:pgtap'));
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  pg_temp.d(0), pg_temp.d(1), 30, 0, 0, 30, now(), true) $$,
    ARRAY[0, 0], 'horizon: nothing for p_public past bookingHorizonDays');
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  pg_temp.d(0), pg_temp.d(1), 30, 0, 0, 30, now(), false) $$,
    ARRAY[14, 14], 'horizon: without p_public the days stay');
SELECT results_eq(
    $$ SELECT * FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  current_date - 1, current_date + 20, 30, 0, 0, 15, now(), true) $$,
    $$ SELECT * FROM pg_temp.slots('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                   current_date - 1, current_date + 20, 30, 0, 0, 15, now(), true) $$,
    'horizon: p_public free_slot_days is count(*) of public free_slots, date by date');
-- Notice 30 days: D and D + 1 (at most three weeks ahead) are too soon; D + 35 is not.
INSERT INTO res VALUES ('p2', org_update('11111111-1111-4111-8111-111111111111', NULL,
                        '{"minimumNoticeMinutes": 43200, "bookingHorizonDays": 0}', 'admin_key:pgtap'));
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  pg_temp.d(0), pg_temp.d(1), 30, 0, 0, 30, now(), true) $$,
    ARRAY[0, 0], 'notice: nothing for p_public sooner than minimumNoticeMinutes');
SELECT results_eq(
    $$ SELECT n FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  pg_temp.d(35), pg_temp.d(36), 30, 0, 0, 30, now(), true) $$,
    ARRAY[16, 16], 'notice: five weeks ahead p_public sees full days');
SELECT results_eq(
    $$ SELECT * FROM pg_temp.days('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                  current_date + 25, current_date + 40, 30, 0, 0, 15, now(), true) $$,
    $$ SELECT * FROM pg_temp.slots('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                                   current_date + 25, current_date + 40, 30, 0, 0, 15, now(), true) $$,
    'notice: p_public free_slot_days is count(*) of public free_slots around the 30-day edge');

SELECT * FROM finish();
ROLLBACK;
