-- The hot statements use their indexes on a database of some size
-- (bench/RESULTS.md, "Scale with data"; the plans at 10 M in
-- bench/EXPLAIN-10M.md). About 50,000 appointments over 100 organizations,
-- made by the benchmark's own generator (bench/scale_data.sql) and
-- analyzed, then each hot call is made as bookd makes it, and the scans it
-- started are read from this transaction's statistics
-- (pg_stat_get_xact_numscans): none may be a sequential scan of a large
-- table, and each must have used the index it depends on. A missing or
-- unusable index turns into a sequential scan here (the planner has no
-- cheaper way), so this file fails.
-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a migrated database (a few seconds). One transaction, rolled back;
-- the tables it wrote are vacuumed after.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(32);

-- The data ------------------------------------------------------------------
\set n 50000
\set orgs 100
\o /dev/null
\set phase setup
\ir ../../bench/scale_data.sql
-- Webhook endpoints of the organizations o % 10 = 5 (bench/scale.sh makes
-- them through the API, which seals their secrets; nothing sends here).
INSERT INTO webhook_endpoints (org_id, url, events, secret, secret_key_id)
SELECT md5('org:' || o)::uuid, 'https://hooks.example.test/' || o,
       '{appointment.booked,appointment.cancelled,appointment.rescheduled}', '\x00', 'k'
  FROM generate_series(5, 100, 10) o;
\set phase batches
\ir ../../bench/scale_data.sql
-- The keys of a busier day than the generator's: enough rows that reading
-- them all would cost more than the primary key's prefix.
INSERT INTO idempotency_keys (org_id, key_kind, key, request_hash, result, created_at)
SELECT md5('org:' || (1 + g % 100))::uuid, 'admin', 'busy-' || g, '\x00',
       jsonb_build_object('status', 'booked', 'appointment',
                          jsonb_build_object('contactId', md5('other:' || g)::uuid)),
       now() - (g % 1000) * interval '1 minute'
  FROM generate_series(1, 20000) g;
\set phase finish
\ir ../../bench/scale_data.sql
\o

-- Helpers -------------------------------------------------------------------
-- The tables a sequential scan of which is a plan that does not scale.
CREATE TEMP TABLE big (rel text PRIMARY KEY);
INSERT INTO big VALUES ('appointments'), ('audit_logs'), ('deliveries'),
    ('idempotency_keys'), ('contacts'), ('manage_tokens');
-- run(label, sql): executes sql and records, under label, every table
-- (kind 'seq') and index (kind 'idx') of public it started scans of.
CREATE TEMP TABLE scans (label text, kind text, rel text, n bigint);
CREATE FUNCTION pg_temp.run(p_label text, p_sql text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_before jsonb;
BEGIN
    SELECT jsonb_object_agg(c.oid::text, pg_stat_get_xact_numscans(c.oid)) INTO v_before
      FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i');
    EXECUTE p_sql;
    INSERT INTO scans
    SELECT p_label, CASE c.relkind WHEN 'r' THEN 'seq' ELSE 'idx' END, c.relname,
           pg_stat_get_xact_numscans(c.oid) - coalesce((v_before ->> c.oid::text)::bigint, 0)
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i')
       AND pg_stat_get_xact_numscans(c.oid) > coalesce((v_before ->> c.oid::text)::bigint, 0);
END
$$;
-- The large tables label's call read sequentially ('{}' when none).
CREATE FUNCTION pg_temp.seq_scanned(p_label text) RETURNS text[]
LANGUAGE sql AS $$
SELECT coalesce(array_agg(s.rel ORDER BY s.rel), '{}') FROM scans s JOIN big b ON b.rel = s.rel
 WHERE s.label = p_label AND s.kind = 'seq'
$$;
-- Whether label's call scanned the index.
CREATE FUNCTION pg_temp.used(p_label text, p_index text) RETURNS boolean
LANGUAGE sql AS $$
SELECT EXISTS (SELECT 1 FROM scans WHERE label = p_label AND kind = 'idx' AND rel = p_index)
$$;

-- An organization with a webhook endpoint (Europe/London) and its default
-- provider; the contact with the most appointments there that has one in
-- the future; a working day (Monday to Friday) of that provider ahead.
CREATE TEMP TABLE t AS
SELECT md5('org:5')::uuid AS org, md5('prov:80')::uuid AS provider,
       (SELECT a.contact_id FROM appointments a
         WHERE a.org_id = md5('org:5')::uuid
         GROUP BY a.contact_id
        HAVING bool_or(a.status = 'confirmed' AND a.scheduled_at > now())
         ORDER BY count(*) DESC, a.contact_id LIMIT 1) AS contact,
       (SELECT d::date FROM generate_series((now() AT TIME ZONE 'Europe/London')::date + 2,
                                            (now() AT TIME ZONE 'Europe/London')::date + 8,
                                            interval '1 day') d
         WHERE extract(isodow FROM d) < 6 ORDER BY d LIMIT 1) AS day;

SELECT ok((SELECT count(*) FROM appointments) BETWEEN 45000 AND 55000
          AND (SELECT count(*) FROM outbox_events) > 20000
          AND (SELECT count(*) FROM idempotency_keys) > 20000
          AND (SELECT count(*) FROM deliveries) > 1000
          AND (SELECT contact FROM t) IS NOT NULL AND (SELECT day FROM t) IS NOT NULL,
          'the generated database has its appointments, events, keys and deliveries');

-- The hot calls ---------------------------------------------------------------
-- Booking, with an idempotency key (bookd's prepared "book"): the key's
-- claim, the references, the busy times, the insert and its exclusion
-- check, the audit entry and the event.
SELECT pg_temp.run('book', format($$
    SELECT book_appointment_with_lock(%L, %L, %L, NULL, %L, 30, NULL, NULL,
        ARRAY[1, 2, 3]::bigint[], %L, %L, 2000, 'admin_key:scale', 'scale-plans', '\x01', false)
$$, org, provider, contact, day + time '19:30' AT TIME ZONE 'UTC',
    day + time '19:15' AT TIME ZONE 'UTC', day + time '20:15' AT TIME ZONE 'UTC'))
  FROM t \g /dev/null
SELECT is((SELECT count(*) FROM appointments WHERE org_id = (SELECT org FROM t)
              AND scheduled_at = (SELECT day + time '19:30' AT TIME ZONE 'UTC' FROM t)), 1::bigint,
          'booking: booked');
SELECT is(pg_temp.seq_scanned('book'), '{}', 'booking: no sequential scan of a large table');
SELECT ok(pg_temp.used('book', 'appointments_no_overlap'),
          'booking: the exclusion constraint''s index checks the range');
SELECT ok(pg_temp.used('book', 'contacts_org_id_id_key') OR pg_temp.used('book', 'contacts_pkey'),
          'booking: the contact by its key');

-- The same key again: the idempotency lookup replays.
SELECT pg_temp.run('replay', format($$
    SELECT book_appointment_with_lock(%L, %L, %L, NULL, %L, 30, NULL, NULL,
        ARRAY[1, 2, 3]::bigint[], %L, %L, 2000, 'admin_key:scale', 'scale-plans', '\x01', false)
$$, org, provider, contact, day + time '19:30' AT TIME ZONE 'UTC',
    day + time '19:15' AT TIME ZONE 'UTC', day + time '20:15' AT TIME ZONE 'UTC'))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('replay'), '{}', 'idempotency lookup: no sequential scan');
SELECT ok(pg_temp.used('replay', 'idempotency_keys_pkey'), 'idempotency lookup: the primary key');

-- A conflict: the conflicting appointment is looked up.
SELECT pg_temp.run('conflict', format($$
    SELECT book_appointment_with_lock(%L, %L, %L, NULL, %L, 30, NULL, NULL,
        ARRAY[1, 2, 3]::bigint[], %L, %L, 2000, 'admin_key:scale', NULL, NULL, false)
$$, org, provider, contact, day + time '19:30' AT TIME ZONE 'UTC',
    day + time '19:15' AT TIME ZONE 'UTC', day + time '20:15' AT TIME ZONE 'UTC'))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('conflict'), '{}', 'a conflict: no sequential scan');

-- Availability (bookd's "free_slots": the function as GET /api/availability
-- calls it) and the check of one range.
SELECT pg_temp.run('slots', format($$
    SELECT count(*) FROM free_slots(%L, %L, %L, 30, 0, 0, 15, now(), false)
$$, org, provider, day))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('slots'), '{}', 'availability: no sequential scan');
SELECT ok(pg_temp.used('slots', 'appointments_no_overlap'),
          'availability: the day''s appointments from the GiST index');
SELECT pg_temp.run('check', format($$
    SELECT check_availability(%L, %L, %L, 30, 0, 0, NULL)
$$, org, provider, day + time '19:30' AT TIME ZONE 'UTC'))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('check'), '{}', 'check: no sequential scan');

-- The dashboard's list: a week of one provider, a day of the whole
-- organization, and a contact's history.
-- Called seven times first: a PL/pgSQL statement may switch to a generic
-- plan after its fifth call, and the plan bookd keeps is the one checked.
SELECT appointment_list(org, day::timestamptz, day + 7, provider, NULL, NULL, NULL, 501, NULL)
  FROM t, generate_series(1, 7) \g /dev/null
SELECT pg_temp.run('list', format($$
    SELECT appointment_list(%L, %L, %L, %L, NULL, NULL, NULL, 501, NULL)
$$, org, day::timestamptz, day + 7, provider))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('list'), '{}', 'list of a week: no sequential scan');
SELECT ok(pg_temp.used('list', 'appointments_org_time') OR pg_temp.used('list', 'appointments_no_overlap'),
          'list of a week: by (org, time), or by the provider''s ranges');
SELECT appointment_list(org, day::timestamptz, day + 1, NULL, NULL, NULL, NULL, 501, NULL)
  FROM t, generate_series(1, 7) \g /dev/null
SELECT pg_temp.run('day', format($$
    SELECT appointment_list(%L, %L, %L, NULL, NULL, NULL, NULL, 501, NULL)
$$, org, day::timestamptz, day + 1))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('day'), '{}', 'list of a day: no sequential scan');
SELECT ok(pg_temp.used('day', 'appointments_org_time'), 'list of a day: (org, time)');
SELECT appointment_list(org, NULL, NULL, NULL, NULL, NULL, NULL, 501, contact)
  FROM t, generate_series(1, 7) \g /dev/null
SELECT pg_temp.run('history', format($$
    SELECT appointment_list(%L, NULL, NULL, NULL, NULL, NULL, NULL, 501, %L)
$$, org, contact))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('history'), '{}', 'a contact''s history: no sequential scan');
SELECT ok(pg_temp.used('history', 'appointments_contact') OR pg_temp.used('history', 'appointments_org_time'),
          'a contact''s history: an index of appointments');

-- The worker: fan-out of the booking's event, claim of due deliveries.
SELECT pg_temp.run('fan_out', $$ SELECT outbox_fan_out(100, 0) $$) \g /dev/null
SELECT ok((SELECT count(*) FROM outbox_events WHERE NOT fanned_out) = 0,
          'fan-out: every pending event taken');
SELECT is(pg_temp.seq_scanned('fan_out'), '{}', 'fan-out: no sequential scan');
SELECT ok(pg_temp.used('fan_out', 'audit_logs_events'), 'fan-out: the events'' index, from the cursor');
-- What waits (bookd_outbox_pending, read at every scrape of /metrics): the
-- events past the cursor, found by the events' index, not every event
-- behind it (the generator's ~50,000).
CREATE TEMP TABLE read_before AS
SELECT pg_stat_get_xact_tuples_returned('audit_logs_events'::regclass) AS n;
SELECT outbox_pending() \g /dev/null
SELECT cmp_ok(pg_stat_get_xact_tuples_returned('audit_logs_events'::regclass)
              - (SELECT n FROM read_before), '<', 100::bigint,
              'what waits: the events past the cursor only, not those behind it');
SELECT pg_temp.run('claim', $$ SELECT count(*) FROM deliveries_claim(256, 60000) $$) \g /dev/null
SELECT is(pg_temp.seq_scanned('claim'), '{}', 'claim: no sequential scan');
-- (Either partial index of the waiting deliveries serves: the planner
-- takes one or the other when hardly any wait.)
SELECT ok(pg_temp.used('claim', 'deliveries_due') OR pg_temp.used('claim', 'deliveries_waiting'),
          'claim: an index of the waiting deliveries');

-- Cancel and reschedule of the booking above.
SELECT pg_temp.run('reschedule', format($$
    SELECT reschedule_appointment_with_lock(%L, %L, NULL, %L, NULL, ARRAY[1, 2, 3, 4]::bigint[],
        %L, %L, 2000, 'admin_key:scale', NULL, NULL)
$$, org, (SELECT id FROM appointments WHERE org_id = t.org
              AND scheduled_at = t.day + time '19:30' AT TIME ZONE 'UTC'),
    day + time '20:30' AT TIME ZONE 'UTC', day + time '19:15' AT TIME ZONE 'UTC',
    day + time '21:15' AT TIME ZONE 'UTC'))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('reschedule'), '{}', 'reschedule: no sequential scan');
SELECT pg_temp.run('cancel', format($$
    SELECT cancel_appointment(%L, %L, NULL, 2000, 'admin_key:scale')
$$, org, (SELECT id FROM appointments WHERE org_id = t.org AND status = 'confirmed'
              AND scheduled_at = t.day + time '20:30' AT TIME ZONE 'UTC')))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('cancel'), '{}', 'cancel: no sequential scan');

-- Erasure of the contact with the most history: its appointments (which
-- its events read: they carry no copy), the idempotency results that
-- replay them.
SELECT ok((SELECT count(*) FROM outbox_events e JOIN appointments a ON a.id = e.entity_id
            WHERE a.contact_id = (SELECT contact FROM t)) > 5,
          'erasure: the contact has events in the outbox');
SELECT pg_temp.run('erase', format($$ SELECT erase_contact(%L, %L, 'admin_key:scale') $$,
                                   org, contact))
  FROM t \g /dev/null
SELECT is(pg_temp.seq_scanned('erase'), '{}', 'erasure: no sequential scan of a large table');
SELECT ok(pg_temp.used('erase', 'appointments_contact'), 'erasure: the contact''s appointments by index');
SELECT ok(pg_temp.used('erase', 'idempotency_keys_pkey'),
          'erasure: the organization''s idempotency keys by the primary key''s prefix');
SELECT is((SELECT count(*) FROM outbox_events e JOIN appointments a ON a.id = e.entity_id
            WHERE a.contact_id = (SELECT contact FROM t) AND e.payload::text LIKE '%Prefers mornings%'),
          0::bigint, 'erasure: no event of the contact keeps its notes');

-- The worker's purge (every minute): keys past their day, deliveries past
-- the retention, manage tokens past their appointment's start, each by its
-- index (events are audit entries, kept).
SELECT pg_temp.run('purge', $$ SELECT outbox_purge(30, 1000) $$) \g /dev/null
SELECT is(pg_temp.seq_scanned('purge'), '{}', 'purge: no sequential scan');
SELECT ok(pg_temp.used('purge', 'idempotency_keys_created') AND pg_temp.used('purge', 'deliveries_finished')
          AND pg_temp.used('purge', 'manage_tokens_valid_until'),
          'purge: keys, deliveries and manage tokens by their age');

SELECT * FROM finish();
ROLLBACK;
-- What the file wrote is rolled back but still takes room, and ANALYZE's
-- row counts outlive the rollback: vacuumed and analyzed, so that the test
-- layers after this one meet the tables as they were.
VACUUM (ANALYZE) appointments, audit_logs, outbox_positions, deliveries, idempotency_keys, contacts,
    manage_tokens, organizations, providers, services, api_keys, webhook_endpoints;
