-- The plans of the hot statements, as bookd runs them, on a database made
-- by bench/scale_data.sql (bench/scale.sh runs it on the 10 M one and
-- writes bench/EXPLAIN-10M.md from what it prints). Every call goes through
-- the real function; auto_explain prints the plan of each statement inside
-- it (EXPLAIN ANALYZE, BUFFERS) as a NOTICE, and every heading is a NOTICE
-- too, so they come out in order on stderr. Whatever the calls write is
-- rolled back.
--   psql -X -q -v ON_ERROR_STOP=1 DB -f bench/scale_explain.sql 2>&1 >/dev/null
\set ON_ERROR_STOP 1
SET client_min_messages = notice;
LOAD 'auto_explain';
-- Never -1: whether a statement's nested statements are explained is
-- decided when the top-level one starts, with the threshold of that moment.
SET auto_explain.log_min_duration = 2147483647;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_buffers = on;
SET auto_explain.log_timing = on;
SET auto_explain.log_level = 'notice';

-- Organization 5 (Europe/London, a webhook endpoint), its default provider,
-- its contact with the most history that has an appointment ahead, and a
-- working day of the provider ahead.
CREATE TEMP TABLE t AS
SELECT md5('org:5')::uuid AS org, md5('prov:80')::uuid AS provider,
       (SELECT a.contact_id FROM appointments a
         WHERE a.org_id = md5('org:5')::uuid
         GROUP BY a.contact_id
        HAVING bool_or(a.status = 'confirmed' AND a.scheduled_at > now())
         ORDER BY count(*) DESC, a.contact_id LIMIT 1) AS contact,
       (SELECT (a.scheduled_at AT TIME ZONE 'Europe/London')::date FROM appointments a
         WHERE a.provider_id = md5('prov:80')::uuid AND a.status = 'confirmed'
           AND a.scheduled_at > now() + interval '1 day'
           AND extract(isodow FROM a.scheduled_at AT TIME ZONE 'Europe/London') < 6
         ORDER BY a.scheduled_at LIMIT 1) AS day;
CREATE FUNCTION pg_temp.say(p text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE '%', p; END $$;
-- Calls sql n times unlogged, then once logged: a PL/pgSQL statement may
-- switch to a generic plan after its fifth call, and bookd's connections
-- make thousands.
CREATE FUNCTION pg_temp.explain(p_title text, p_sql text, p_n int DEFAULT 6) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('auto_explain.log_min_duration', '2147483647', false);
    FOR i IN 1..p_n LOOP
        EXECUTE p_sql;
    END LOOP;
    RAISE NOTICE '### %', p_title;
    PERFORM set_config('auto_explain.log_min_duration', '0', false);
    EXECUTE p_sql;
    PERFORM set_config('auto_explain.log_min_duration', '2147483647', false);
END
$$;

SELECT pg_temp.say(format('the organization %s, provider %s, contact %s (%s appointments, %s events), day %s',
                          org, provider, contact,
                          (SELECT count(*) FROM appointments WHERE org_id = t.org AND contact_id = t.contact),
                          (SELECT count(*) FROM outbox_events e JOIN appointments a ON a.id = e.entity_id
                            WHERE a.org_id = t.org AND a.contact_id = t.contact),
                          day))
  FROM t;

BEGIN;
-- Booking with an Idempotency-Key, at a free time of that day (bookd's
-- prepared "book"; stand-in lock keys, any ascending bigints do).
CREATE TEMP TABLE keyed AS SELECT format($$
    SELECT book_appointment_with_lock(%L, %L, %L, NULL, %L, 30, NULL, NULL,
        ARRAY[1, 2, 3]::bigint[], %L, %L, 2000, 'admin_key:explain', 'explain-key', '\x01', false)
$$, org, provider, contact, day + time '19:30' AT TIME ZONE 'UTC',
    day + time '19:15' AT TIME ZONE 'UTC', day + time '20:15' AT TIME ZONE 'UTC') AS call
  FROM t;
SELECT pg_temp.explain('Booking (book_appointment_with_lock, with an Idempotency-Key): every statement inside', call, 0)
  FROM keyed;
-- The same call again: the key's stored answer is replayed.
SELECT pg_temp.explain('Idempotency lookup (the same key again: a replay)', call, 0)
  FROM keyed;
SELECT pg_temp.explain('Booking a taken time (the conflict looked up)', format($$
    SELECT book_appointment_with_lock(%L, %L, %L, NULL, %L, 30, NULL, NULL,
        ARRAY[1, 2, 3]::bigint[], %L, %L, 2000, 'admin_key:explain', NULL, NULL, false)
$$, org, provider, contact, day + time '19:30' AT TIME ZONE 'UTC',
    day + time '19:15' AT TIME ZONE 'UTC', day + time '20:15' AT TIME ZONE 'UTC'), 0)
  FROM t;
ROLLBACK;

SELECT pg_temp.explain('Availability (free_slots, as GET /api/availability calls it)', format($$
    SELECT count(*) FROM free_slots(%L, %L, %L, 30, 0, 0, 15, now(), false)
$$, org, provider, day))
  FROM t;
SELECT pg_temp.explain('List: a week of one provider (GET /api/appointments?from&to&providerId&limit=500)', format($$
    SELECT appointment_list(%L, %L, %L, %L, NULL, NULL, NULL, 501, NULL)
$$, org, day::timestamptz, day + 7, provider))
  FROM t;
SELECT pg_temp.explain('List: a contact''s history (GET /api/appointments?contactId&limit=500)', format($$
    SELECT appointment_list(%L, NULL, NULL, NULL, NULL, NULL, NULL, 501, %L)
$$, org, contact))
  FROM t;

BEGIN;
SELECT pg_temp.explain('Erasure of that contact (erase_contact; rolled back)', format($$
    SELECT erase_contact(%L, %L, 'admin_key:explain')
$$, org, contact), 0)
  FROM t;
ROLLBACK;

BEGIN;
SELECT pg_temp.explain('The worker: fan-out (outbox_fan_out)', $$ SELECT outbox_fan_out(100, 0) $$, 0);
SELECT pg_temp.explain('The worker: claim of due deliveries (deliveries_claim)',
                       $$ SELECT count(*) FROM deliveries_claim(256, 60000) $$, 0);
SELECT pg_temp.explain('The worker: the purge, every minute (outbox_purge)',
                       $$ SELECT outbox_purge(30, 1000) $$, 0);
ROLLBACK;

SELECT pg_temp.explain('A key''s owner (key_owner; bookd caches the answer)', $$
    SELECT * FROM key_owner(sha256(convert_to('bk_admin_'
        || left(encode(sha256(convert_to('scale-key-admin5', 'UTF8')), 'hex'), 43), 'UTF8')), false)
$$);
