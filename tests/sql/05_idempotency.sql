-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a database with every migration applied. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
-- A session time zone far from UTC: the functions must print UTC anyway.
SET LOCAL TimeZone = 'America/New_York';
SELECT plan(46);

\ir fixtures.psql
-- Same key, same request: replay --------------------------------------------------
INSERT INTO res VALUES ('k1', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1')));
SELECT is(pg_temp.r('k1') ->> 'status', 'booked', 'first request with a key: booked');
SELECT ok(NOT pg_temp.r('k1') ? 'replayed', 'first request: not marked replayed');
SELECT results_eq($$
    SELECT org_id, request_hash, result, created_at FROM idempotency_keys WHERE key = 'key-1'
    $$, $$
    SELECT '11111111-1111-4111-8111-111111111111'::uuid, sha256('request-1'),
           pg_temp.r('k1') - 'lockWaitUs', now()
    $$, 'the key is stored with the request hash and the result (without lockWaitUs)');
INSERT INTO snap VALUES ('after-k1', pg_temp.totals());

INSERT INTO res VALUES ('k1b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1')));
SELECT is(pg_temp.r('k1b') -> 'replayed', 'true'::jsonb, 'same key, same hash: "replayed": true');
SELECT is(pg_temp.r('k1b') ->> 'status', 'booked', 'the replay says booked');
SELECT is(pg_temp.aid('k1b'), pg_temp.aid('k1'), 'the replay names the same appointment');
SELECT is(pg_temp.r('k1b') - 'replayed' - 'lockWaitUs', pg_temp.r('k1') - 'lockWaitUs',
          'the replay is the stored result, field for field');
SELECT is(pg_temp.r('k1b') -> 'lockWaitUs', '0'::jsonb, 'the replay waited for no lock');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after-k1'),
          'the replay booked nothing: no appointment, audit, outbox or key row');
SELECT is((SELECT count(*)::int FROM appointments
            WHERE scheduled_at = '2030-04-01 10:00:00+00'),
          1, 'exactly one appointment at 10:00');

-- Same key, different request: BK004 -------------------------------------------------
SELECT throws_ok($$
    SELECT pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                        'cccccccc-0000-4000-8000-000000000001', NULL,
                        '2030-04-01 12:00:00+00', 30, 'key-1', sha256('request-2'))
    $$, 'BK004', 'Idempotency-Key was already used with a different request',
    'same key, different hash: BK004');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after-k1'), 'BK004: nothing written');
SELECT is((SELECT request_hash FROM idempotency_keys WHERE key = 'key-1'), sha256('request-1'),
          'BK004: the stored hash is unchanged');
SELECT throws_ok(format($$
    SELECT pg_temp.resched(%L, '2030-04-01 12:00:00+00', p_key => 'key-1',
                           p_hash => sha256('reschedule-1'))
    $$, pg_temp.aid('k1')),
    'BK004', NULL, 'a booking''s key reused for a reschedule (other hash): BK004');

-- Keys are per organization ------------------------------------------------------------
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000003',
                       'cccccccc-0000-4000-8000-000000000004', NULL,
                       '2030-04-01 10:00:00+00', 30, 'key-1', sha256('other-org-request'),
                       p_org => '22222222-2222-4222-8222-222222222222') ->> 'status',
          'booked', 'the same key in another organization is a different key: booked');
SELECT is((SELECT count(*)::int FROM idempotency_keys WHERE key = 'key-1'), 2,
          'one key row per organization');

-- Keys are per kind of key too (API.md, "Book") ------------------------------------------
INSERT INTO res VALUES ('kp', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1'), p_actor => 'public_key:pgtap'));
SELECT ok(NOT pg_temp.r('kp') ? 'replayed',
          'the admin key''s key sent by a public key is not replayed to it');
SELECT is(pg_temp.r('kp') ->> 'status', 'conflict',
          'the public key''s request is a booking attempt of its own (the slot is taken)');
SELECT results_eq($$ SELECT key_kind::text FROM idempotency_keys
                      WHERE key = 'key-1' AND org_id = '11111111-1111-4111-8111-111111111111'
                      ORDER BY key_kind $$,
                  $$ VALUES ('admin'), ('public') $$,
                  'one key row per kind of key in the organization');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001', NULL,
                       '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1'),
                       p_actor => 'public_key:other') - 'lockWaitUs',
          (pg_temp.r('kp') - 'lockWaitUs') || '{"replayed": true}',
          'another public key of the organization replays the public answer');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001', NULL,
                       '2030-04-01 10:00:00+00', 30, 'key-1', sha256('request-1'))
              - 'lockWaitUs',
          (pg_temp.r('k1') - 'lockWaitUs') || '{"replayed": true}',
          'and the admin key still replays its own');

-- A conflict is stored and replayed too -------------------------------------------------
INSERT INTO res VALUES ('k2', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 10:15:00+00', 30, 'key-2', sha256('request-conflict')));
SELECT is(pg_temp.r('k2') ->> 'status', 'conflict', 'a keyed request that conflicts: conflict');
SELECT is((SELECT result FROM idempotency_keys WHERE key = 'key-2'),
          pg_temp.r('k2') - 'lockWaitUs', 'the conflict result is stored with the key');
-- Free the slot: a fresh attempt would now book, but the replay must not.
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('k1'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'the blocking appointment is cancelled');
INSERT INTO snap VALUES ('before-k2b', pg_temp.totals());
INSERT INTO res VALUES ('k2b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 10:15:00+00', 30, 'key-2', sha256('request-conflict')));
SELECT is(pg_temp.r('k2b') ->> 'status', 'conflict', 'the retry replays the conflict');
SELECT is(pg_temp.r('k2b') -> 'replayed', 'true'::jsonb, 'the replayed conflict is marked replayed');
SELECT is(pg_temp.r('k2b') -> 'conflictingAppointment', pg_temp.r('k2') -> 'conflictingAppointment',
          'the replayed conflict names the same appointment');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before-k2b'),
          'the replayed conflict booked nothing');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-04-01 10:15:00+00', 30, 'key-3', sha256('request-conflict'))
          ->> 'status',
          'booked', 'the same request under a new key books (the slot really is free)');

-- An expired key (older than 24 h) is treated as new --------------------------------------
UPDATE idempotency_keys SET created_at = now() - interval '23 hours'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-2';
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000002', NULL,
                       '2030-04-01 10:15:00+00', 30, 'key-2', sha256('request-conflict'))
          -> 'replayed',
          'true'::jsonb, 'a key 23 h old still replays');
UPDATE idempotency_keys SET created_at = now() - interval '25 hours'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-2';
INSERT INTO res VALUES ('k2c', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 11:00:00+00', 30, 'key-2', sha256('request-after-expiry')));
SELECT is(pg_temp.r('k2c') ->> 'status', 'booked',
          'a key 25 h old with a different hash: treated as new (no BK004), booked');
SELECT ok(NOT pg_temp.r('k2c') ? 'replayed', 'the expired key''s request is not a replay');
SELECT results_eq($$
    SELECT request_hash, result, created_at FROM idempotency_keys
     WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-2'
    $$, $$
    SELECT sha256('request-after-expiry'), pg_temp.r('k2c') - 'lockWaitUs', now()
    $$, 'the expired key now holds the new hash, result and time');
INSERT INTO res VALUES ('k2d', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-01 11:00:00+00', 30, 'key-2', sha256('request-after-expiry')));
SELECT is(pg_temp.aid('k2d'), pg_temp.aid('k2c'), 'and it replays the new result afterwards');
-- Same hash after expiry: a new booking, not a replay.
INSERT INTO res VALUES ('k4', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-02 10:00:00+00', 30, 'key-4', sha256('request-4')));
SELECT is(cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('k4'), NULL,
                             2000, 'admin_key:pgtap') ->> 'status',
          'cancelled', 'fixture: the keyed booking is cancelled');
UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second'
 WHERE org_id = '11111111-1111-4111-8111-111111111111' AND key = 'key-4';
INSERT INTO res VALUES ('k4b', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000001', NULL,
    '2030-04-02 10:00:00+00', 30, 'key-4', sha256('request-4')));
SELECT ok(pg_temp.r('k4b') ->> 'status' = 'booked' AND NOT pg_temp.r('k4b') ? 'replayed'
          AND pg_temp.aid('k4b') <> pg_temp.aid('k4'),
          'the same request after expiry books a new appointment');

-- Errors are not stored: the key stays free ------------------------------------------------
SELECT throws_ok($$
    SELECT pg_temp.book('eeeeeeee-0000-4000-8000-000000000000',
                        'cccccccc-0000-4000-8000-000000000001', NULL,
                        '2030-04-03 10:00:00+00', 30, 'key-err', sha256('bad'))
    $$, 'BK001', NULL, 'a keyed request with an unknown provider: BK001');
SELECT is_empty($$SELECT 1 FROM idempotency_keys WHERE key = 'key-err'$$,
                'the failed request left no key behind');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
                       'cccccccc-0000-4000-8000-000000000001', NULL,
                       '2030-04-03 10:00:00+00', 30, 'key-err', sha256('fixed')) ->> 'status',
          'booked', 'the key can be used again with a corrected request');
SELECT is_empty($$SELECT 1 FROM idempotency_keys WHERE result = '{}'$$,
                'no key row is left holding the placeholder result');

-- No key: nothing stored ---------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM idempotency_keys), 7,
          'only the keyed requests stored keys (key-1 x2 orgs + public, key-2, key-3, key-4, key-err)');

-- Reschedule with a key --------------------------------------------------------------------
INSERT INTO res VALUES ('m', pg_temp.book(
    'aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000002', NULL,
    '2030-04-04 10:00:00+00', 30));
INSERT INTO res VALUES ('m1', pg_temp.resched(pg_temp.aid('m'), '2030-04-04 12:00:00+00',
                                              p_key => 'key-r', p_hash => sha256('resched-1')));
SELECT is(pg_temp.r('m1') ->> 'status', 'rescheduled', 'keyed reschedule: rescheduled');
INSERT INTO snap VALUES ('after-m1', pg_temp.totals());
INSERT INTO res VALUES ('m2', pg_temp.resched(pg_temp.aid('m'), '2030-04-04 12:00:00+00',
                                              p_key => 'key-r', p_hash => sha256('resched-1')));
SELECT is(pg_temp.r('m2') - 'replayed' - 'lockWaitUs', pg_temp.r('m1') - 'lockWaitUs',
          'keyed reschedule retried: the stored result (not BK003 for the now rescheduled row)');
SELECT is(pg_temp.r('m2') -> 'replayed', 'true'::jsonb, 'keyed reschedule retried: replayed');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after-m1'),
          'keyed reschedule retried: nothing written');
SELECT throws_ok(format($$
    SELECT pg_temp.resched(%L, '2030-04-04 13:00:00+00', p_key => 'key-r',
                           p_hash => sha256('resched-2'))
    $$, pg_temp.aid('m1')),
    'BK004', NULL, 'keyed reschedule, same key, different request: BK004');

SELECT * FROM finish();
ROLLBACK;
