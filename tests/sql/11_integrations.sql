-- Run: psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- Integrations (sql/45_integrations.sql and the integration side of
-- sql/50_deliveries.sql): settings, linked calendars, busy times in every
-- conflict path, the deliveries each event makes, what sending them needs,
-- reminders voided by a cancel, stops and resumes. One transaction, rolled
-- back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(51);

\ir fixtures.psql
-- Earlier layers' pending events are processed first: the counts below are
-- this file's own.
SELECT outbox_fan_out(1000000, 0);
DELETE FROM deliveries;

-- Settings ----------------------------------------------------------------------
SELECT is(integrations_get('11111111-1111-4111-8111-111111111111'),
          '{"google": {"connected": false, "lastError": null, "lastSuccessAt": null},
            "twilio": {"connected": false, "lastError": null, "lastSuccessAt": null},
            "vapi": {"connected": false, "lastError": null, "lastSuccessAt": null}}'::jsonb,
          'nothing connected at first');
SELECT is(pg_temp.err($$ SELECT calendar_link('11111111-1111-4111-8111-111111111111',
                         'aaaaaaaa-0000-4000-8000-000000000001', 'primary', 'admin_key:pgtap') $$),
          'BK003', 'a calendar cannot be linked before Google is connected');
SELECT is(integration_put('11111111-1111-4111-8111-111111111111', 'google',
                          '{"clientId": "cid"}', '\x01', 'k', 'admin_key:pgtap'),
          '{"connected": true, "clientId": "cid"}'::jsonb, 'put answers the public settings');
SELECT integration_put('11111111-1111-4111-8111-111111111111', 'twilio',
                       '{"accountSid": "AC1", "fromNumber": "+15550009999", "reminderHoursBefore": 24}',
                       '\x02', 'k', 'admin_key:pgtap');
SELECT integration_put('11111111-1111-4111-8111-111111111111', 'vapi',
                       '{"assistantId": "as", "phoneNumberId": "pn", "reminderCallHoursBefore": 2}',
                       '\x03', 'k', 'admin_key:pgtap');
SELECT is(integrations_get('11111111-1111-4111-8111-111111111111') -> 'twilio',
          '{"connected": true, "accountSid": "AC1", "fromNumber": "+15550009999",
            "reminderHoursBefore": 24, "lastError": null, "lastSuccessAt": null}'::jsonb,
          'get shows the public settings and the status, never the secret');
SELECT is(pg_temp.err($$ SELECT calendar_link('11111111-1111-4111-8111-111111111111',
                         'aaaaaaaa-0000-4000-8000-000000000003', 'primary', 'admin_key:pgtap') $$),
          'BK002', 'another organization''s provider is unknown');
SELECT is(calendar_link('11111111-1111-4111-8111-111111111111',
                        'aaaaaaaa-0000-4000-8000-000000000001', 'primary', 'admin_key:pgtap'),
          '{"providerId": "aaaaaaaa-0000-4000-8000-000000000001", "calendarId": "primary"}'::jsonb,
          'a provider is linked');
SELECT is(pg_temp.err($$ SELECT calendar_sync_request('11111111-1111-4111-8111-111111111111',
                         'aaaaaaaa-0000-4000-8000-000000000002') $$),
          'BK003', 'a sync of a provider without a calendar is refused');
SELECT is((SELECT count(*)::int FROM audit_logs
            WHERE org_id = '11111111-1111-4111-8111-111111111111'
              AND action IN ('integration.updated', 'provider.calendar_linked')), 4,
          'settings and links are audited');

-- Busy times --------------------------------------------------------------------
SELECT is((SELECT count(*)::int FROM calendar_sync_claim(100, 60000) WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'), 1,
          'the linked calendar is due for an import');
SELECT is((SELECT count(*)::int FROM calendar_sync_claim(100, 60000) WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'), 0,
          'and leased to the worker that claimed it');
SELECT calendar_sync_store('aaaaaaaa-0000-4000-8000-000000000001', NULL,
    ARRAY['2030-01-07T10:00:00+01:00', '2030-01-08', 'not a time'],
    ARRAY['2030-01-07T11:00:00+01:00', '2030-01-09', '2030-01-07T12:00:00Z'],
    ARRAY['ev1', 'allday', 'bad'], 300);
SELECT is((SELECT array_agg(during ORDER BY during)::text FROM busy_times WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'),
          '{"[\"2030-01-07 09:00:00+00\",\"2030-01-07 10:00:00+00\")","[\"2030-01-07 23:00:00+00\",\"2030-01-08 23:00:00+00\")"}',
          'a timed event and an all-day event (a day in the organization''s zone) are busy; an unreadable time is skipped');
SELECT is((SELECT busy_count FROM provider_calendars WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'), 2, 'the link counts them');
SELECT ok((SELECT sync_due_at > now() + interval '299 seconds' AND locked_until IS NULL
             FROM provider_calendars WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'), 'the next import is due after the interval, the lease ends');

INSERT INTO res VALUES ('busy', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-07 09:30+00', 30));
SELECT is(pg_temp.r('busy') - 'lockWaitUs',
          '{"status": "conflict", "conflictingBusy": {"start": "2030-01-07T09:00:00.000Z",
            "end": "2030-01-07T10:00:00.000Z", "source": "google"}}'::jsonb,
          'a booking over a busy time is a conflict naming it');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-07 10:00+00', 30) ->> 'status',
    'booked', 'right after the busy time is free');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-07 09:30+00', 30) ->> 'status',
    'booked', 'another provider''s calendar is not in the way');
SELECT is(check_availability('11111111-1111-4111-8111-111111111111',
          'aaaaaaaa-0000-4000-8000-000000000001', '2030-01-07 09:45+00', 30, 0, 0, NULL)
          -> 'conflictingBusy' ->> 'start', '2030-01-07T09:00:00.000Z', 'the check names the busy time');
SELECT is((SELECT count(*)::int FROM free_slots('11111111-1111-4111-8111-111111111111',
             'aaaaaaaa-0000-4000-8000-000000000001', '2030-01-07', 30, 0, 0, 30, NULL)
            WHERE slot_start < '2030-01-07 10:00+00' AND slot_start + interval '30 minutes' > '2030-01-07 09:00+00'),
          0, 'free slots leave the busy time out');
SELECT ok(EXISTS (SELECT 1 FROM free_slots('11111111-1111-4111-8111-111111111111',
             'aaaaaaaa-0000-4000-8000-000000000001', '2030-01-07', 30, 0, 0, 30, NULL)
            WHERE slot_start = '2030-01-07 08:30+00'), 'and still offer the time before it');
INSERT INTO res VALUES ('early', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000002', NULL, '2030-01-07 08:00+00', 30));
SELECT is(pg_temp.resched(pg_temp.aid('early'), '2030-01-07 09:15+00') -> 'conflictingBusy' ->> 'end',
          '2030-01-07T10:00:00.000Z', 'a reschedule onto a busy time is refused');
SELECT is(hold_slot('11111111-1111-4111-8111-111111111111', 'aaaaaaaa-0000-4000-8000-000000000001',
                    NULL, '2030-01-07 09:00+00', 15, 300,
                    pg_temp.keys('2030-01-07 09:00+00', '2030-01-07 09:15+00'),
                    '2030-01-07 09:00+00', '2030-01-07 09:15+00', 2000, 'admin_key:pgtap',
                    false, 0) ->> 'status',
          'conflict', 'so is a hold');
SELECT calendar_sync_store('aaaaaaaa-0000-4000-8000-000000000001', 'HTTP 500', NULL, NULL, NULL, 300);
SELECT is((SELECT count(*)::int FROM busy_times WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'), 2, 'a failed import keeps the last busy times');
SELECT is(integrations_get('11111111-1111-4111-8111-111111111111') -> 'google' ->> 'lastError',
          'HTTP 500', 'and shows the error');

-- Deliveries ----------------------------------------------------------------
INSERT INTO contacts (id, org_id, name) VALUES
    ('cccccccc-0000-4000-8000-000000000009', '11111111-1111-4111-8111-111111111111', 'No Phone');
SELECT outbox_fan_out(1000, 0);
DELETE FROM deliveries;
INSERT INTO res VALUES ('a', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-02-04 10:00+00', 30));
SELECT is(outbox_fan_out(10, 0), 1, 'the booking''s event is fanned out');
SELECT results_eq($$ SELECT target, action, next_attempt_at FROM deliveries
                     ORDER BY target, action $$,
    $$ VALUES ('google', 'google.insert', now()), ('twilio', 'sms.booked', now()),
              ('twilio', 'sms.reminder', '2030-02-03 10:00+00'::timestamptz),
              ('vapi', 'call.reminder', '2030-02-04 08:00+00'::timestamptz) $$,
    'a booking makes the event insert, the SMS, and the reminders at their times');
SELECT is((SELECT bk_delivery_context(d) FROM deliveries d WHERE action = 'sms.booked'),
          '{"phone": "+15550001111", "text": "Hi Alice, your appointment at Test Clinic is confirmed for Mon 4 Feb at 11:00 am."}'::jsonb,
          'the SMS: first name, practice, time in the organization''s zone, nothing else');
SELECT is((SELECT bk_delivery_context(d) - 'description' FROM deliveries d WHERE action = 'google.insert'),
          jsonb_build_object('calendarId', 'primary',
                             'eventId', 'bk' || replace(pg_temp.aid('a')::text, '-', ''),
                             'summary', 'Alice Pgtapson', 'start', '2030-02-04T10:00:00.000Z',
                             'end', '2030-02-04T10:30:00.000Z'),
          'the event: its derived id, the contact''s name, the times');
SELECT is((SELECT bk_delivery_context(d) ->> 'localTime' FROM deliveries d WHERE action = 'call.reminder'),
          'Monday 4 February at 11:00 am', 'the reminder call gets the time as a voice says it');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002', 'cccccccc-0000-4000-8000-000000000009',
                       NULL, '2030-02-04 10:00+00', 30) ->> 'status', 'booked', 'a contact without a phone books');
SELECT outbox_fan_out(10, 0);
SELECT is((SELECT bk_delivery_context(d) ->> 'skip' FROM deliveries d
            WHERE action = 'sms.booked' AND appointment_id <> pg_temp.aid('a')),
          'the contact has no phone number', 'and its SMS is void when claimed');
SELECT is((SELECT count(*)::int FROM deliveries
            WHERE target = 'google' AND appointment_id <> pg_temp.aid('a')), 0,
          'a provider without a calendar gets no Google delivery');

SELECT cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('a'), NULL, 2000,
                          'admin_key:pgtap');
SELECT results_eq($$ SELECT action, status FROM deliveries
                      WHERE appointment_id = pg_temp.aid('a') AND action LIKE '%reminder'
                      ORDER BY action $$,
    $$ VALUES ('call.reminder', 'void'), ('sms.reminder', 'void') $$,
    'the cancel voids the reminders in its own transaction');
SELECT outbox_fan_out(10, 0);
SELECT results_eq($$ SELECT action FROM deliveries WHERE appointment_id = pg_temp.aid('a')
                      AND status = 'pending' ORDER BY action $$,
    $$ VALUES ('google.delete'), ('google.insert'), ('sms.booked'), ('sms.cancelled') $$,
    'the cancel deletes the event and sends a notice');
SELECT is((SELECT bk_delivery_context(d) ->> 'skip' FROM deliveries d WHERE action = 'google.insert'),
          'the appointment is no longer confirmed', 'an insert not yet sent for a cancelled appointment is void');
CREATE TEMP TABLE c1 AS SELECT * FROM deliveries_claim(100, 60000);
SELECT ok(NOT EXISTS (SELECT 1 FROM c1 WHERE action = 'google.delete')
          AND EXISTS (SELECT 1 FROM c1 WHERE action = 'google.insert'),
          'the delete waits while the insert of the same appointment waits');
SELECT ok((SELECT payload ? 'settings' AND secret = '\x02'::bytea FROM c1 WHERE action = 'sms.cancelled'),
          'a claim gives the context, the settings and the sealed credentials');

-- Outcomes: an integration's status, a stop, a resume.
SELECT deliveries_record(ARRAY(SELECT id FROM c1 WHERE action = 'google.insert'), '{void}',
                         '{NULL}', '{"not sent"}', '{0}');
SELECT is((SELECT count(*)::int FROM deliveries_claim(100, 60000) WHERE action = 'google.delete'), 1,
          'once the insert is done with, the delete is claimed');
SELECT deliveries_record(ARRAY(SELECT id FROM c1 WHERE action = 'sms.cancelled'), '{stop}',
                         '{401}', '{"Twilio refused the credentials (HTTP 401)"}', '{0}');
SELECT ok((SELECT stopped_at IS NOT NULL AND last_error LIKE 'Twilio refused%'
             FROM integrations WHERE org_id = '11111111-1111-4111-8111-111111111111' AND kind = 'twilio'), 'a refusal stops the integration and shows why');
SELECT is((SELECT d.status || '/' || d.attempts FROM deliveries d JOIN c1 USING (id)
            WHERE d.action = 'sms.cancelled'), 'pending/0', 'its delivery is kept, no attempt counted');
UPDATE deliveries SET locked_until = NULL;
SELECT is((SELECT count(*)::int FROM deliveries_claim(100, 60000) WHERE target = 'twilio'), 0,
          'a stopped integration''s deliveries are not claimed');
SELECT integration_put('11111111-1111-4111-8111-111111111111', 'twilio',
                       '{"accountSid": "AC1", "fromNumber": "+15550009999", "reminderHoursBefore": 24}',
                       '\x04', 'k', 'admin_key:pgtap');
UPDATE deliveries SET locked_until = NULL;
SELECT ok((SELECT count(*) FROM deliveries_claim(100, 60000) WHERE target = 'twilio') >= 1
          AND (SELECT stopped_at IS NULL AND last_error IS NULL FROM integrations WHERE org_id = '11111111-1111-4111-8111-111111111111' AND kind = 'twilio'),
          'new settings resume them');
SELECT deliveries_record(ARRAY(SELECT id FROM deliveries WHERE action = 'sms.booked'
                                AND appointment_id = pg_temp.aid('a')), '{delivered}', '{201}',
                         '{NULL}', '{0}');
SELECT ok((SELECT last_success_at IS NOT NULL FROM integrations WHERE org_id = '11111111-1111-4111-8111-111111111111' AND kind = 'twilio'),
          'a delivery done sets lastSuccessAt');

INSERT INTO res VALUES ('g', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000002', NULL, '2030-02-05 10:00+00', 30));
SELECT outbox_fan_out(10, 0);
SELECT deliveries_record(ARRAY(SELECT id FROM deliveries WHERE action = 'google.insert'
                                AND appointment_id = pg_temp.aid('g')), '{delivered}', '{200}',
                         '{NULL}', '{0}');
SELECT is((SELECT google_event_id FROM appointments WHERE id = pg_temp.aid('g')),
          'bk' || replace(pg_temp.aid('g')::text, '-', ''),
          'an event inserted is kept with its appointment');
INSERT INTO res VALUES ('past', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000002', NULL, '2020-01-06 10:00+00', 30));
UPDATE appointments SET google_event_id = 'bk' || replace(id::text, '-', '')
 WHERE id = pg_temp.aid('past');
SELECT outbox_fan_out(10, 0);
SELECT erase_contact('11111111-1111-4111-8111-111111111111', 'cccccccc-0000-4000-8000-000000000002',
                     'admin_key:pgtap');
SELECT outbox_fan_out(10, 0);
SELECT results_eq($$ SELECT appointment_id FROM deliveries
                      WHERE action = 'google.delete' AND appointment_id IN (pg_temp.aid('g'), pg_temp.aid('past'))
                      ORDER BY appointment_id = pg_temp.aid('g') $$,
    $$ VALUES (pg_temp.aid('past')), (pg_temp.aid('g')) $$,
    'an erasure deletes the contact''s events: the past one kept in the calendar, the future one cancelled');
-- reminderHoursBefore 0: no reminder SMS (the call reminder stays).
SELECT integration_put('11111111-1111-4111-8111-111111111111', 'twilio',
                       '{"accountSid": "AC1", "fromNumber": "+15550009999", "reminderHoursBefore": 0}',
                       '\x05', 'k', 'admin_key:pgtap');
INSERT INTO res VALUES ('noremind', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000002',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-02-06 10:00+00', 30));
SELECT outbox_fan_out(10, 0);
SELECT results_eq($$ SELECT action FROM deliveries WHERE appointment_id = pg_temp.aid('noremind')
                      ORDER BY action $$,
    $$ VALUES ('call.reminder'), ('sms.booked') $$,
    'reminderHoursBefore 0: the confirmation, no reminder SMS');
-- The worker's fan-out leases to itself what it can send at once: not a
-- Google delete (it waits for the insert of its appointment, which may be
-- in the same batch), not a reminder (due later).
INSERT INTO res VALUES ('h', pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-02-07 10:00+00', 30));
SELECT cancel_appointment('11111111-1111-4111-8111-111111111111', pg_temp.aid('h'), NULL, 2000,
                          'admin_key:pgtap');
CREATE TEMP TABLE f1 AS SELECT * FROM outbox_fan_out(10, 0, 100, 60000);
SELECT results_eq($$ SELECT action FROM f1 WHERE id IS NOT NULL ORDER BY action $$,
    $$ VALUES ('google.insert'), ('sms.booked'), ('sms.cancelled') $$,
    'the worker''s fan-out leases the insert and the notices, with what sending needs');
SELECT results_eq($$ SELECT action, locked_until IS NULL FROM deliveries
                      WHERE appointment_id = pg_temp.aid('h') AND action NOT IN (SELECT action FROM f1 WHERE id IS NOT NULL)
                      ORDER BY action $$,
    $$ VALUES ('call.reminder', true), ('google.delete', true) $$,
    'the delete and the reminder wait for a claim');
SELECT integration_delete('11111111-1111-4111-8111-111111111111', 'google', 'admin_key:pgtap');
SELECT ok(NOT EXISTS (SELECT 1 FROM deliveries WHERE target = 'google' AND status IN ('pending', 'failed'))
          AND NOT EXISTS (SELECT 1 FROM provider_calendars WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001')
          AND NOT EXISTS (SELECT 1 FROM busy_times WHERE provider_id = 'aaaaaaaa-0000-4000-8000-000000000001'),
          'disconnecting Google kills its waiting deliveries and unlinks every calendar');
SELECT is(pg_temp.book('aaaaaaaa-0000-4000-8000-000000000001',
    'cccccccc-0000-4000-8000-000000000001', NULL, '2030-01-07 09:30+00', 15) ->> 'status', 'booked',
    'and its busy times no longer count');
SELECT is(pg_temp.err($$ SELECT integration_delete('11111111-1111-4111-8111-111111111111', 'google',
                         'admin_key:pgtap') $$), 'BK002', 'a second disconnect is 404');
SELECT ok(NOT EXISTS (SELECT 1 FROM appointments WHERE status = 'busy'),
          'no appointment is ever stored as busy');

SELECT * FROM finish();
ROLLBACK;
