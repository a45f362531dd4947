-- create_contact() and erase_contact() (the right to erasure). Run:
-- psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a migrated database. Everything is rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET LOCAL TimeZone = 'America/Los_Angeles';
SELECT plan(46);

-- Fixtures ------------------------------------------------------------------
-- org1 22000000-…-001 (Europe/Berlin)   org2 -002 (UTC)
-- providers 22aaaaaa-…-001 (org1)  -002 (org2)
-- Contacts are made with create_contact() below; their ids are kept in res.
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('22000000-0000-4000-8000-000000000001', 'Erasure Clinic', 'Europe/Berlin', '\x2201'),
    ('22000000-0000-4000-8000-000000000002', 'Other Clinic', 'UTC', '\x2202');
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('22aaaaaa-0000-4000-8000-000000000001', '22000000-0000-4000-8000-000000000001',
     'Dr One', '{"mon":[["09:00","17:00"]]}', true),
    ('22aaaaaa-0000-4000-8000-000000000002', '22000000-0000-4000-8000-000000000002',
     'Dr Two', '{"mon":[["09:00","17:00"]]}', true);

-- The personal data that must be gone after the erasure, wherever it was.
CREATE TEMP TABLE needles (n text PRIMARY KEY);
INSERT INTO needles VALUES ('Zebulon'), ('Quillfeather'), ('+447700900555'), ('447700900555'),
    ('zebulon.q@example.test'), ('NOTES-NEEDLE'), ('META-NEEDLE'), ('REASON-NEEDLE'),
    ('RESCHED-NEEDLE');

-- Helpers -------------------------------------------------------------------
-- Books through the real booking function with stand-in lock keys (any
-- ascending bigints covering the 15-minute buckets of the range).
CREATE FUNCTION pg_temp.book(p_contact uuid, p_at timestamptz, p_notes text, p_metadata jsonb,
                             p_key text DEFAULT NULL,
                             p_org uuid DEFAULT '22000000-0000-4000-8000-000000000001',
                             p_provider uuid DEFAULT '22aaaaaa-0000-4000-8000-000000000001')
RETURNS jsonb LANGUAGE sql AS $$
SELECT book_appointment_with_lock(
    p_org, p_provider, p_contact, NULL, p_at, 30, p_notes, p_metadata,
    ARRAY(SELECT (extract(epoch FROM g) / 900)::bigint
            FROM generate_series(to_timestamp(floor(extract(epoch FROM p_at) / 900) * 900),
                                 p_at + interval '15 minutes', interval '15 minutes') g),
    to_timestamp(floor(extract(epoch FROM p_at) / 900) * 900),
    to_timestamp(floor(extract(epoch FROM p_at) / 900) * 900) + interval '45 minutes',
    2000, 'admin_key:pgtap', p_key, CASE WHEN p_key IS NOT NULL THEN '\x01'::bytea END)
$$;
CREATE FUNCTION pg_temp.resched(p_id uuid, p_at timestamptz, p_key text) RETURNS jsonb
LANGUAGE sql AS $$
SELECT reschedule_appointment_with_lock(
    '22000000-0000-4000-8000-000000000001', p_id, NULL, p_at, NULL,
    ARRAY(SELECT DISTINCT (extract(epoch FROM g) / 900)::bigint
            FROM (SELECT generate_series(to_timestamp(floor(extract(epoch FROM t) / 900) * 900),
                                         t + interval '15 minutes', interval '15 minutes')
                    FROM (VALUES (p_at), ((SELECT scheduled_at FROM appointments WHERE id = p_id))) v(t)) s(g)
           ORDER BY 1),
    to_timestamp(floor(extract(epoch FROM p_at) / 900) * 900),
    to_timestamp(floor(extract(epoch FROM p_at) / 900) * 900) + interval '45 minutes',
    2000, 'admin_key:pgtap', p_key, '\x02')
$$;
CREATE TEMP TABLE res (k text PRIMARY KEY, v jsonb NOT NULL);
CREATE FUNCTION pg_temp.r(p_k text) RETURNS jsonb LANGUAGE sql AS $$ SELECT v FROM res WHERE k = p_k $$;
CREATE FUNCTION pg_temp.id(p_k text) RETURNS uuid LANGUAGE sql AS $$
SELECT coalesce(v -> 'appointment' ->> 'id', v ->> 'id')::uuid FROM res WHERE k = p_k
$$;
CREATE FUNCTION pg_temp.err(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_col text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_col = COLUMN_NAME;
    RETURN v_state || coalesce(' ' || nullif(v_col, ''), '');
END
$$;
-- Which needles occur anywhere in a table's rows (row::text covers every
-- column, jsonb included).
CREATE FUNCTION pg_temp.leaks(p_table text) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    v text[];
BEGIN
    EXECUTE format('SELECT coalesce(array_agg(DISTINCT n.n ORDER BY n.n), ''{}'')
                      FROM public.%I t, needles n WHERE t::text LIKE ''%%'' || n.n || ''%%''',
                   p_table) INTO v;
    RETURN v;
END
$$;
CREATE FUNCTION pg_temp.totals() RETURNS text LANGUAGE sql AS $$
SELECT format('contacts=%s appointments=%s audit=%s outbox=%s idempotency=%s',
              (SELECT count(*) FROM contacts WHERE erased_at IS NULL),
              (SELECT count(*) FROM appointments),
              (SELECT count(*) FROM audit_logs), (SELECT count(*) FROM outbox_events),
              (SELECT count(*) FROM idempotency_keys))
$$;
CREATE TEMP TABLE snap (k text PRIMARY KEY, v text);

-- create_contact ----------------------------------------------------------------
INSERT INTO res VALUES
    ('zeb', create_contact('22000000-0000-4000-8000-000000000001', 'Zebulon Quillfeather',
                           '+447700900555', 'zebulon.q@example.test', 'admin_key:pgtap')),
    ('keep', create_contact('22000000-0000-4000-8000-000000000001', 'Keeper Person',
                            '+447700900666', NULL, 'public_key:pgtap')),
    ('bare', create_contact('22000000-0000-4000-8000-000000000001', 'Bare Person', NULL, NULL,
                            'admin_key:pgtap')),
    ('other', create_contact('22000000-0000-4000-8000-000000000002', 'Other Org Person',
                             '+447700900777', NULL, 'admin_key:pgtap2'));

SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('zeb')) ORDER BY 1),
          ARRAY['email', 'id', 'name', 'phone'], 'create_contact: exactly id, name, phone, email');
SELECT is(pg_temp.r('zeb') - 'id',
          '{"name":"Zebulon Quillfeather","phone":"+447700900555","email":"zebulon.q@example.test"}'::jsonb,
          'create_contact: the values given');
SELECT is(pg_temp.r('bare') - 'id', '{"name":"Bare Person","phone":null,"email":null}'::jsonb,
          'create_contact: phone and email omitted are JSON null');
SELECT is((SELECT name || '|' || phone || '|' || email || '|' || org_id FROM contacts
            WHERE id = pg_temp.id('zeb')),
          'Zebulon Quillfeather|+447700900555|zebulon.q@example.test|22000000-0000-4000-8000-000000000001',
          'create_contact: stored in the caller''s organization');
SELECT results_eq($$SELECT actor, action, entity_type::text, details FROM audit_logs
                    WHERE entity_id = pg_temp.id('keep')$$,
                  $$VALUES ('public_key:pgtap', 'contact.created', 'contact',
                            '{"hasPhone": true, "hasEmail": false}'::jsonb)$$,
                  'create_contact: audited with booleans only');
INSERT INTO snap VALUES ('before bad contact', pg_temp.totals());
SELECT is(pg_temp.err($$SELECT create_contact('22000000-0000-4000-8000-000000000001', NULL, NULL, NULL, 'x')$$)
          || ' / ' ||
          pg_temp.err($$SELECT create_contact('22000000-0000-4000-8000-000000000001', '  ', NULL, NULL, 'x')$$),
          'BK001 name / BK001 name', 'create_contact: a missing or blank name is BK001 name');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before bad contact'),
          'create_contact: a refused contact writes nothing');

-- The contact's history -------------------------------------------------------------
-- P1 past (idempotency key), F1 future, F2 future rescheduled to F2new
-- (idempotency key), F3 future and cancelled with a reason; K1 belongs to
-- the contact that stays.
INSERT INTO res VALUES
    ('P1', pg_temp.book(pg_temp.id('zeb'), date_trunc('hour', now()) - interval '2 days',
                        'NOTES-NEEDLE: penicillin allergy', '{"insurer": "META-NEEDLE-ACME"}', 'k-p1')),
    ('F1', pg_temp.book(pg_temp.id('zeb'), date_trunc('hour', now()) + interval '2 days',
                        'NOTES-NEEDLE: bring x-rays', '{"insurer": "META-NEEDLE-ACME"}')),
    ('F2', pg_temp.book(pg_temp.id('zeb'), date_trunc('hour', now()) + interval '3 days',
                        'RESCHED-NEEDLE: wheelchair', '{"insurer": "META-NEEDLE-ACME"}')),
    ('F3', pg_temp.book(pg_temp.id('zeb'), date_trunc('hour', now()) + interval '5 days',
                        'NOTES-NEEDLE', '{"insurer": "META-NEEDLE-ACME"}')),
    ('K1', pg_temp.book(pg_temp.id('keep'), date_trunc('hour', now()) + interval '2 days 2 hours',
                        'KEEP-NOTES', '{"k": "KEEP-META"}', 'k-keep')),
    ('O1', pg_temp.book(pg_temp.id('other'), date_trunc('hour', now()) + interval '2 days',
                        'OTHER-NOTES', '{}', NULL, '22000000-0000-4000-8000-000000000002',
                        '22aaaaaa-0000-4000-8000-000000000002'));
INSERT INTO res VALUES ('F2new', pg_temp.resched(pg_temp.id('F2'),
                                                 date_trunc('hour', now()) + interval '4 days', 'k-r1'));
INSERT INTO res VALUES ('F3cancel', cancel_appointment('22000000-0000-4000-8000-000000000001',
                        pg_temp.id('F3'), 'REASON-NEEDLE: moved away', 2000, 'admin_key:pgtap'));
SELECT is(ARRAY(SELECT coalesce(v ->> 'status', '?') FROM res
                 WHERE k IN ('P1', 'F1', 'F2', 'F3', 'K1', 'O1', 'F2new', 'F3cancel')
                 ORDER BY k COLLATE "C"),
          -- F1 F2 F2new F3 F3cancel K1 O1 P1
          ARRAY['booked', 'booked', 'rescheduled', 'booked', 'cancelled', 'booked', 'booked', 'booked'],
          'fixture: the history was written through the booking functions');

-- The checks below have teeth: before the erasure the data is everywhere
-- (but never in the audit log).
SELECT is(ARRAY(SELECT t FROM unnest(ARRAY['contacts', 'appointments', 'outbox_events',
                                           'idempotency_keys']) t
                 WHERE cardinality(pg_temp.leaks(t)) > 0 ORDER BY t),
          ARRAY['appointments', 'contacts', 'idempotency_keys', 'outbox_events'],
          'before erasure: the personal data is in contacts, appointments, outbox and idempotency rows');
SELECT is(pg_temp.leaks('audit_logs'), '{}', 'before erasure: none in the audit log');

INSERT INTO snap VALUES
    ('outbox of zeb', (SELECT count(*)::text FROM outbox_events
                        WHERE payload -> 'appointment' ->> 'contactId' = pg_temp.id('zeb')::text)),
    ('K1 row', (SELECT a::text FROM appointments a WHERE id = pg_temp.id('K1'))),
    ('appointments of zeb', (SELECT string_agg(format('%s %s %s %s %s', id, scheduled_at,
                                               duration_minutes, contact_id, provider_id), ',' ORDER BY id)
                              FROM appointments WHERE contact_id = pg_temp.id('zeb')));

-- The erasure -----------------------------------------------------------------------
INSERT INTO res VALUES ('erase', erase_contact('22000000-0000-4000-8000-000000000001',
                                               pg_temp.id('zeb'), 'admin_key:eraser'));
SELECT is(pg_temp.r('erase'), '{"cancelledAppointments": 2}'::jsonb,
          'erase: the two future confirmed appointments were cancelled');

SELECT results_eq($$SELECT name, phone, email, erased_at FROM contacts WHERE id = pg_temp.id('zeb')$$,
                  $$VALUES (NULL::text, NULL::text, NULL::text, now())$$,
                  'erase: name, phone and email are NULL, erased_at is set; the row stays');

-- No personal data anywhere.
SELECT is(pg_temp.leaks('contacts'), '{}', 'erase: nothing left in contacts');
SELECT is(pg_temp.leaks('appointments'), '{}', 'erase: nothing left in appointments');
SELECT is(pg_temp.leaks('outbox_events'), '{}', 'erase: nothing left in outbox_events');
SELECT is(pg_temp.leaks('idempotency_keys'), '{}', 'erase: nothing left in idempotency_keys');
SELECT is(pg_temp.leaks('audit_logs'), '{}', 'erase: nothing in audit_logs');

-- The calendar stays right.
SELECT is((SELECT string_agg(format('%s %s %s %s %s', id, scheduled_at, duration_minutes,
                                    contact_id, provider_id), ',' ORDER BY id)
             FROM appointments WHERE contact_id = pg_temp.id('zeb')),
          (SELECT v FROM snap WHERE k = 'appointments of zeb'),
          'erase: times, durations, providers and contactId of every appointment are kept');
SELECT is((SELECT count(*) FROM appointments WHERE contact_id = pg_temp.id('zeb')
              AND (notes IS NOT NULL OR metadata <> '{}' OR cancel_reason IS NOT NULL)),
          0::bigint, 'erase: every appointment of the contact has notes NULL, metadata {}, no reason');
SELECT is((SELECT status FROM appointments WHERE id = pg_temp.id('P1')), 'confirmed',
          'erase: the past appointment stays confirmed');
SELECT results_eq($$SELECT status::text, cancelled_at FROM appointments WHERE id = pg_temp.id('F1')$$,
                  $$VALUES ('cancelled', now())$$, 'erase: the future appointment is cancelled');
SELECT results_eq($$SELECT status::text, rescheduled_to FROM appointments WHERE id = pg_temp.id('F2')$$,
                  $$VALUES ('rescheduled', pg_temp.id('F2new'))$$,
                  'erase: the rescheduled one stays rescheduled, pointing at its successor');
SELECT is((SELECT status FROM appointments WHERE id = pg_temp.id('F2new')), 'cancelled',
          'erase: the successor (future, confirmed) is cancelled');
SELECT is((SELECT status FROM appointments WHERE id = pg_temp.id('F3')), 'cancelled',
          'erase: the already cancelled one stays cancelled');
SELECT is(check_availability('22000000-0000-4000-8000-000000000001', '22aaaaaa-0000-4000-8000-000000000001',
                             date_trunc('hour', now()) + interval '2 days', 30, 0, 0, NULL),
          '{"available": true}'::jsonb, 'erase: the cancelled slot is free again');

-- Audit and outbox.
SELECT results_eq($$SELECT actor, entity_type::text, details FROM audit_logs
                    WHERE entity_id = pg_temp.id('zeb') AND action = 'contact.erased'$$,
                  $$VALUES ('admin_key:eraser', 'contact', '{"cancelledAppointments": 2}'::jsonb)$$,
                  'erase: one contact.erased audit row, with a count only');
SELECT is(ARRAY(SELECT entity_id FROM audit_logs
                 WHERE action = 'appointment.cancelled' AND actor = 'admin_key:eraser' ORDER BY entity_id),
          ARRAY(SELECT unnest(ARRAY[pg_temp.id('F1'), pg_temp.id('F2new')]) ORDER BY 1),
          'erase: an appointment.cancelled audit row for each cancelled appointment');
SELECT is((SELECT count(*) FROM outbox_events o
            WHERE o.event_type = 'appointment.cancelled'
              AND o.entity_id IN (pg_temp.id('F1'), pg_temp.id('F2new'))
              AND o.payload -> 'appointment' ->> 'status' = 'cancelled'
              AND o.payload -> 'appointment' -> 'notes' = 'null'
              AND o.payload -> 'appointment' -> 'metadata' = '{}'
              AND o.payload -> 'appointment' ->> 'cancelledAt' = bk_iso(now())),
          2::bigint, 'erase: an appointment.cancelled event for each, carrying the scrubbed appointment');
SELECT is((SELECT count(*) FROM outbox_events
            WHERE payload -> 'appointment' ->> 'contactId' = pg_temp.id('zeb')::text),
          (SELECT v::bigint + 2 FROM snap WHERE k = 'outbox of zeb'),
          'erase: earlier events are rewritten, not deleted');
SELECT is((SELECT count(*) FROM outbox_events
            WHERE payload -> 'appointment' ->> 'contactId' = pg_temp.id('zeb')::text
              AND (payload -> 'appointment' -> 'notes' <> 'null'
                   OR payload -> 'appointment' -> 'metadata' <> '{}')),
          0::bigint, 'erase: every event of the contact has notes null and metadata {}');
SELECT is(ARRAY(SELECT key::text FROM idempotency_keys
                 WHERE org_id = '22000000-0000-4000-8000-000000000001' ORDER BY key),
          ARRAY['k-keep'], 'erase: the idempotency rows replaying the contact''s appointments are gone');

-- Nobody else is touched.
SELECT is((SELECT name || '|' || phone FROM contacts WHERE id = pg_temp.id('keep')),
          'Keeper Person|+447700900666', 'erase: another contact keeps its data');
SELECT is((SELECT a::text FROM appointments a WHERE id = pg_temp.id('K1')),
          (SELECT v FROM snap WHERE k = 'K1 row'),
          'erase: another contact''s appointment is untouched');
SELECT is((SELECT payload -> 'appointment' ->> 'notes' FROM outbox_events
            WHERE entity_id = pg_temp.id('K1') AND event_type = 'appointment.booked'),
          'KEEP-NOTES', 'erase: another contact''s events are untouched');
SELECT is((SELECT name FROM contacts WHERE id = pg_temp.id('other')), 'Other Org Person',
          'erase: another organization''s contact is untouched');

-- Afterwards -------------------------------------------------------------------------
INSERT INTO snap VALUES ('after erase', pg_temp.totals());
SELECT is(pg_temp.err(format($$SELECT erase_contact('22000000-0000-4000-8000-000000000001', %L, 'x')$$,
                             pg_temp.id('zeb'))),
          'BK002', 'erase again: BK002');
SELECT is(pg_temp.err($$SELECT erase_contact('22000000-0000-4000-8000-000000000001',
                                             '22eeeeee-0000-4000-8000-000000000000', 'x')$$),
          'BK002', 'erase an unknown contact: BK002');
SELECT is(pg_temp.err(format($$SELECT erase_contact('22000000-0000-4000-8000-000000000001', %L, 'x')$$,
                             pg_temp.id('other'))),
          'BK002', 'erase another organization''s contact: BK002');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'after erase'),
          'a refused erasure writes nothing');
SELECT is((SELECT name FROM contacts WHERE id = pg_temp.id('other')), 'Other Org Person',
          'the other organization''s contact survived the attempt');
SELECT is(pg_temp.err(format($$SELECT pg_temp.book(%L, now() + interval '9 days', NULL, NULL)$$,
                             pg_temp.id('zeb'))),
          'BK001 contactId', 'an erased contact cannot be booked');
SELECT is(pg_temp.err(format($$SELECT cancel_appointment('22000000-0000-4000-8000-000000000001',
                                                         %L, NULL, 2000, 'x')$$, pg_temp.id('P1'))),
          'no error', 'the erased contact''s past appointment can still be cancelled');
SELECT is((SELECT notes FROM appointments WHERE id = pg_temp.id('P1')), NULL,
          '... and its notes stay erased');

-- A contact without appointments.
SELECT is(erase_contact('22000000-0000-4000-8000-000000000001', pg_temp.id('bare'), 'admin_key:pgtap'),
          '{"cancelledAppointments": 0}'::jsonb, 'erase a contact without appointments: 0 cancelled');
SELECT is((SELECT erased_at IS NOT NULL AND name IS NULL FROM contacts WHERE id = pg_temp.id('bare')),
          true, '... and it is erased');
SELECT is((SELECT count(*) FROM audit_logs WHERE entity_id = pg_temp.id('bare')
              AND action = 'contact.erased' AND details = '{"cancelledAppointments": 0}'),
          1::bigint, '... and audited');

SELECT * FROM finish();
ROLLBACK;
