-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- The delivery functions (sql/50_deliveries.sql): fan-out, claims and their
-- lease, outcomes, manual retry, the purge. Everything happens inside one
-- transaction that is rolled back, so the file leaves nothing behind.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(42);

\ir fixtures.psql
-- Endpoints: org1 has two (one for booked only, one disabled), org2 none.
INSERT INTO webhook_endpoints (id, org_id, url, events, secret, secret_key_id, disabled_at) VALUES
    ('0e000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111',
     'https://hooks.example.test/a', '{appointment.booked,appointment.cancelled}', '\x00', 'k', NULL),
    ('0e000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111',
     'https://hooks.example.test/b', '{appointment.booked}', '\x00', 'k', NULL),
    ('0e000000-0000-4000-8000-000000000003', '11111111-1111-4111-8111-111111111111',
     'https://hooks.example.test/c', '{appointment.booked}', '\x00', 'k', now());
-- Whatever earlier test layers left pending is processed first, so that the
-- counts below are this file's own.
SELECT outbox_fan_out(1000000, 0);
DELETE FROM deliveries;

-- Events are audit entries with an event_type (migration 0019); one entry
-- without is no event.
INSERT INTO audit_logs (id, org_id, actor, action, entity_type, entity_id, event_type) VALUES
    ('0f000000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'system',
     'appointment.booked', 'appointment', gen_random_uuid(), 'appointment.booked'),
    ('0f000000-0000-4000-8000-000000000002', '11111111-1111-4111-8111-111111111111', 'system',
     'appointment.cancelled', 'appointment', gen_random_uuid(), 'appointment.cancelled'),
    ('0f000000-0000-4000-8000-000000000004', '11111111-1111-4111-8111-111111111111', 'system',
     'provider.created', 'provider', gen_random_uuid(), NULL),
    ('0f000000-0000-4000-8000-000000000003', '22222222-2222-4222-8222-222222222222', 'system',
     'appointment.booked', 'appointment', gen_random_uuid(), 'appointment.booked');

-- Fan-out ----------------------------------------------------------------------
SELECT is(outbox_fan_out(100, 0), 3, 'fan-out processes the three pending events');
SELECT results_eq($$ SELECT event_id::text, target FROM deliveries ORDER BY 1, 2 $$,
    $$ VALUES ('0f000000-0000-4000-8000-000000000001', 'webhook:0e000000-0000-4000-8000-000000000001'),
              ('0f000000-0000-4000-8000-000000000001', 'webhook:0e000000-0000-4000-8000-000000000002'),
              ('0f000000-0000-4000-8000-000000000002', 'webhook:0e000000-0000-4000-8000-000000000001') $$,
    'one delivery per subscribed, enabled endpoint of the event''s organization');
SELECT is((SELECT count(*)::int FROM outbox_events
            WHERE id::text LIKE '0f000000%' AND NOT fanned_out), 0,
          'the cursor is past the events, also the one no endpoint wants');
SELECT is(outbox_pending(), 3::bigint, 'what waits is the three deliveries, no event');
SELECT is(outbox_fan_out(100, 0), 0, 'a second fan-out finds nothing');
SELECT is((SELECT count(*)::int FROM deliveries WHERE status = 'pending' AND attempts = 0), 3,
          'new deliveries are pending, never attempted');

-- Claims and their lease -----------------------------------------------------------
CREATE TEMP TABLE claimed AS SELECT * FROM deliveries_claim(2, 60000);
SELECT is((SELECT count(*)::int FROM claimed), 2, 'a claim takes at most its limit');
SELECT ok((SELECT bool_and(url LIKE 'https://hooks.example.test/%' AND event_type LIKE 'appointment.%'
                           AND event_at ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
             FROM claimed), 'a claim returns what sending needs');
SELECT is((SELECT count(*)::int FROM deliveries_claim(10, 60000)), 1,
          'a second claim skips the leased ones');
SELECT is((SELECT count(*)::int FROM deliveries_claim(10, 60000)), 0, 'and then finds none');
UPDATE deliveries SET locked_until = now() - interval '1 second'
 WHERE id = (SELECT id FROM claimed LIMIT 1);
SELECT is((SELECT count(*)::int FROM deliveries_claim(10, 60000)), 0,
          'a lease run out is not claimed before it is handed back');
SELECT is(deliveries_release(100), 1, 'the release hands back the lease that ran out, only it');
SELECT is((SELECT count(*)::int FROM deliveries_claim(10, 60000)), 1,
          'a delivery whose lease ran out (its worker died) is claimable again');

-- The worker's fan-out leases what is due at once to itself, within its
-- room; the rest waits for a claim.
INSERT INTO audit_logs (id, org_id, actor, action, entity_type, entity_id, event_type)
SELECT ('0f100000-0000-4000-8000-00000000000' || n)::uuid, '11111111-1111-4111-8111-111111111111',
       'system', 'appointment.booked', 'appointment', gen_random_uuid(), 'appointment.booked'
  FROM generate_series(1, 3) n;
CREATE TEMP TABLE taken AS SELECT * FROM outbox_fan_out(100, 0, 4, 60000);
SELECT results_eq($$ SELECT count(*)::int, min(events), count(*) FILTER (WHERE payload ->> 'appointment' IS NOT NULL)::int FROM taken $$,
                  $$ VALUES (4, 3, 4) $$,
                  'fan-out with room for 4 of 6 deliveries returns 4, with what sending needs, and the events taken');
SELECT results_eq($$ SELECT count(*) FILTER (WHERE locked_until > now())::int,
                            count(*) FILTER (WHERE locked_until IS NULL)::int
                       FROM deliveries WHERE event_id::text LIKE '0f100000%' $$,
                  $$ VALUES (4, 2) $$, 'those 4 are leased; the 2 beyond the room are not');
SELECT is((SELECT count(*)::int FROM deliveries_claim(10, 60000)), 2,
          'a claim takes the 2 left, not the leased ones');
SELECT results_eq($$ SELECT events, id FROM outbox_fan_out(100, 0, 4, 60000) $$,
                  $$ VALUES (0, NULL::uuid) $$, 'with no event, one row: none taken, none leased');
INSERT INTO audit_logs (id, org_id, actor, action, entity_type, entity_id, event_type) VALUES
    ('0f200000-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'system',
     'appointment.booked', 'appointment', gen_random_uuid(), 'appointment.booked');
SELECT results_eq($$ SELECT events, id FROM outbox_fan_out(100, 5000, 4, 60000) $$,
                  $$ VALUES (1, NULL::uuid) $$, 'a first attempt due later is leased to nobody');
SELECT is((SELECT count(*)::int FROM deliveries WHERE event_id = '0f200000-0000-4000-8000-000000000001'
              AND locked_until IS NULL AND next_attempt_at > now() + interval '4 seconds'), 2,
          'it waits, unleased, for its time');
DELETE FROM deliveries WHERE event_id::text LIKE '0f100000%' OR event_id::text LIKE '0f200000%';

-- Outcomes ---------------------------------------------------------------------------
CREATE TEMP TABLE d AS SELECT id, row_number() OVER (ORDER BY id) AS n FROM deliveries;
SELECT deliveries_record(
    ARRAY(SELECT id FROM d ORDER BY n),
    ARRAY['delivered', 'retry', 'defer'],
    ARRAY[200, 500, NULL]::int[], ARRAY[NULL, 'HTTP 500', NULL],
    ARRAY[0, 1924988400000, 1924988400000]::bigint[]);
SELECT is((SELECT status || '/' || attempts || '/' || last_status_code || '/' || (delivered_at IS NOT NULL)
             FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 1)),
          'delivered/1/200/true', 'delivered: one attempt, its status code and time');
SELECT is((SELECT status || '/' || attempts || '/' || last_error || '/' || bk_iso(next_attempt_at)
             FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 2)),
          'failed/1/HTTP 500/2030-12-31T23:00:00.000Z', 'retry: failed, the attempt counted, due at the time given');
SELECT is((SELECT status || '/' || attempts || '/' || bk_iso(next_attempt_at)
             FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 3)),
          'pending/0/2030-12-31T23:00:00.000Z', 'defer: no attempt counted, due at the probe time');
SELECT is((SELECT count(*)::int FROM deliveries WHERE locked_until IS NOT NULL), 0,
          'every recorded delivery is released');
SELECT deliveries_record(ARRAY[(SELECT id FROM d WHERE n = 2)], ARRAY['dead'], ARRAY[503],
                         ARRAY['HTTP 503'], ARRAY[0]::bigint[]);
SELECT is((SELECT status || '/' || attempts FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 2)),
          'dead/2', 'dead after the last attempt');
SELECT is((bk_delivery_json(dl, 'appointment.booked') ->> 'nextAttemptAt'), NULL,
          'a dead delivery has no next attempt in the API')
  FROM deliveries dl WHERE id = (SELECT id FROM d WHERE n = 2);

-- 410 disables the endpoint and kills its waiting deliveries --------------------------
SELECT deliveries_record(ARRAY[(SELECT id FROM d WHERE n = 3)], ARRAY['gone'], ARRAY[410],
                         ARRAY['HTTP 410'], ARRAY[0]::bigint[]);
SELECT ok((SELECT disabled_at IS NOT NULL FROM webhook_endpoints
            WHERE id = (SELECT endpoint_id FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 3))),
          '410: the endpoint is disabled');
SELECT is((SELECT count(*)::int FROM deliveries dl JOIN webhook_endpoints w ON w.id = dl.endpoint_id
            WHERE w.disabled_at IS NOT NULL AND dl.status IN ('pending', 'failed')), 0,
          '410: no delivery of a disabled endpoint waits any more');

-- Manual retry ------------------------------------------------------------------------
SELECT throws_ok(format($$ SELECT retry_delivery('11111111-1111-4111-8111-111111111111', %L, 'system') $$,
                        (SELECT id FROM d WHERE n = 1)),
                 'BK003', NULL, 'a delivered delivery cannot be retried');
SELECT throws_ok(format($$ SELECT retry_delivery('22222222-2222-4222-8222-222222222222', %L, 'system') $$,
                        (SELECT id FROM d WHERE n = 2)),
                 'BK002', NULL, 'another organization''s delivery is not found');
SELECT is(retry_delivery('11111111-1111-4111-8111-111111111111', (SELECT id FROM d WHERE n = 2),
                         'system') ->> 'status', 'pending', 'a dead delivery is queued again');
SELECT is((SELECT attempts || '/' || (next_attempt_at <= now()) FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 2)),
          '0/true', 'with the whole schedule before it, due at once');
SELECT is(retry_delivery('11111111-1111-4111-8111-111111111111', (SELECT id FROM d WHERE n = 3),
                         'system') ->> 'status', 'pending', 'so is one its endpoint''s 410 killed');
SELECT ok((SELECT disabled_at IS NULL FROM webhook_endpoints
            WHERE id = (SELECT endpoint_id FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 3))),
          'and its endpoint is enabled again');
SELECT is((SELECT count(*)::int FROM audit_logs WHERE action = 'webhook_endpoint.enabled'
              AND entity_id = (SELECT endpoint_id FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 3))), 1,
          'which the audit log records');

-- Breakers: a state that did not change is not written ---------------------------------
SELECT breakers_read(ARRAY['11111111-1111-4111-8111-111111111111'::uuid], ARRAY['webhook:z'], true);
CREATE TEMP TABLE bsave (n int, wb bigint, oa bigint);
INSERT INTO bsave VALUES (1, 0, 0), (2, 0, 0), (3, 1, 1924988400000);
CREATE FUNCTION pg_temp.save(p_n int) RETURNS tid LANGUAGE plpgsql AS $f$
BEGIN
    PERFORM breakers_save(ARRAY['11111111-1111-4111-8111-111111111111'::uuid], ARRAY['webhook:z'],
                          ARRAY[0]::smallint[], ARRAY[(SELECT wb FROM bsave WHERE n = p_n)],
                          ARRAY[20], ARRAY[0], ARRAY[(SELECT oa FROM bsave WHERE n = p_n)],
                          ARRAY[0], ARRAY[0], ARRAY[0]::bigint[]);
    RETURN (SELECT ctid FROM breakers WHERE target = 'webhook:z');
END
$f$;
CREATE TEMP TABLE bctid AS SELECT pg_temp.save(1) AS t1;
SELECT is(pg_temp.save(2), (SELECT t1 FROM bctid), 'a breaker saved as it stands gets no new row version');
SELECT isnt(pg_temp.save(3), (SELECT t1 FROM bctid), 'a changed one does');
SELECT results_eq($$ SELECT window_bits, bk_iso(opened_at) FROM breakers WHERE target = 'webhook:z' $$,
                  $$ VALUES (1::bigint, '2030-12-31T23:00:00.000Z') $$, 'with what changed');

-- The purge ---------------------------------------------------------------------------
INSERT INTO idempotency_keys (org_id, key_kind, key, request_hash, result, created_at) VALUES
    ('11111111-1111-4111-8111-111111111111', 'admin', 'old', '\x00', '{}', now() - interval '25 hours'),
    ('11111111-1111-4111-8111-111111111111', 'admin', 'new', '\x00', '{}', now() - interval '23 hours');
UPDATE deliveries SET delivered_at = now() - interval '31 days' WHERE id = (SELECT id FROM d WHERE n = 1);
SELECT cmp_ok((SELECT count(*) FROM outbox_positions), '>', 1::bigint,
              'each fan-out that took events appended its position to the cursor''s log');
CREATE TEMP TABLE cursor_before AS SELECT * FROM bk_outbox_cursor();
SELECT cmp_ok(outbox_purge(30, 1000), '>=', 2, 'the purge removes what is past its time');
SELECT results_eq($$ SELECT xid::text, seq FROM outbox_positions $$,
                  $$ SELECT xid::text, seq FROM cursor_before $$,
                  'and the positions behind the cursor, the cursor kept');
SELECT results_eq($$ SELECT key::text FROM idempotency_keys WHERE key IN ('old', 'new') $$,
                  $$ VALUES ('new') $$, 'idempotency keys go after 24 hours, not before');
SELECT results_eq($$ SELECT (SELECT count(*)::int FROM deliveries WHERE id = (SELECT id FROM d WHERE n = 1)),
                            (SELECT count(*)::int FROM audit_logs WHERE id::text LIKE '0f000000%') $$,
                  $$ VALUES (0, 4) $$,
                  'delivered deliveries past the retention go; their events stay, being audit entries');

SELECT * FROM finish();
ROLLBACK;
