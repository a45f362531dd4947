-- The right to erasure (API.md, "Contacts").

-- An event or idempotency payload with the personal data of the appointment
-- objects it carries ("appointment", "previousAppointment") erased the way
-- the API erases them: notes null, metadata {}.
CREATE OR REPLACE FUNCTION bk_scrub_appointment_payload(p jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT p || coalesce((SELECT jsonb_object_agg(k, (p -> k) || '{"notes": null, "metadata": {}}')
                        FROM unnest(ARRAY['appointment', 'previousAppointment']) k
                       WHERE jsonb_typeof(p -> k) = 'object'), '{}')
$$;

-- DELETE /api/contacts/{id}: the right to erasure. Personal data goes from
-- everywhere it is stored: the contact's name, phone and email; the notes,
-- metadata and cancel reasons of all its appointments; the same inside the
-- outbox payloads; and the idempotency rows that replay its appointments
-- (deleted, request hash and all: a retry then meets an erased contact and
-- books nothing). Times, statuses and contact_id stay, so the calendar
-- stays right; future confirmed appointments are cancelled (and announced).
-- Returns {"cancelledAppointments": n}.
--
-- Lock order: docs/design.md, "Lock order". Erasure locks the contact FOR
-- UPDATE before anything else, so two erasures serialise (the second finds
-- the row erased: BK002) and a booking or reschedule that key-share locks
-- the contact either committed before (its appointment is seen here, each
-- statement having a fresh snapshot) or waits and then meets an erased
-- contact.
CREATE OR REPLACE FUNCTION erase_contact(p_org_id uuid, p_contact_id uuid, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_id text := p_contact_id::text;
    v_appt appointments;
    v_json jsonb;
    v_cancelled int := 0;
BEGIN
    PERFORM 1 FROM contacts
     WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'contact not found' USING ERRCODE = 'BK002';
    END IF;

    -- Future confirmed appointments: cancelled and scrubbed in one update;
    -- the event carries the scrubbed row, the audit row no personal data.
    FOR v_appt IN
        UPDATE appointments
           SET status = 'cancelled', cancelled_at = now(),
               notes = NULL, metadata = '{}', cancel_reason = NULL
         WHERE org_id = p_org_id AND contact_id = p_contact_id
           AND status = 'confirmed' AND scheduled_at > now()
        RETURNING *
    LOOP
        v_cancelled := v_cancelled + 1;
        v_json := bk_appointment_json(v_appt);
        PERFORM bk_audit(p_org_id, p_actor, 'appointment.cancelled', 'appointment', v_appt.id,
                         jsonb_build_object('providerId', v_appt.provider_id,
                                            'scheduledAt', bk_iso(v_appt.scheduled_at),
                                            'erasure', true));
        PERFORM bk_emit(p_org_id, 'appointment.cancelled', v_appt.id,
                        jsonb_build_object('appointment', v_json));
        PERFORM bk_void_reminders(v_appt.id);
    END LOOP;

    -- All the others (past, cancelled, rescheduled) keep status and times.
    UPDATE appointments SET notes = NULL, metadata = '{}', cancel_reason = NULL
     WHERE org_id = p_org_id AND contact_id = p_contact_id
       AND (notes IS NOT NULL OR metadata <> '{}' OR cancel_reason IS NOT NULL);

    -- Copies of the appointment objects already written to the outbox
    -- (delivered or not). An event that carries an appointment object is
    -- about that appointment (entity_id), so they are found through the
    -- contact's appointments (outbox_events_entity, migration 0018), not
    -- by reading every event of the organization.
    UPDATE outbox_events SET payload = bk_scrub_appointment_payload(payload)
     WHERE entity_id IN (SELECT a.id FROM appointments a
                          WHERE a.org_id = p_org_id AND a.contact_id = p_contact_id)
       AND org_id = p_org_id
       AND (payload -> 'appointment' ->> 'contactId' = v_id
            OR payload -> 'previousAppointment' ->> 'contactId' = v_id)
       AND payload IS DISTINCT FROM bk_scrub_appointment_payload(payload);

    DELETE FROM idempotency_keys
     WHERE org_id = p_org_id
       AND (result -> 'appointment' ->> 'contactId' = v_id
            OR result -> 'previousAppointment' ->> 'contactId' = v_id);

    UPDATE contacts SET name = NULL, phone = NULL, email = NULL, erased_at = now()
     WHERE id = p_contact_id;
    PERFORM bk_audit(p_org_id, p_actor, 'contact.erased', 'contact', p_contact_id,
                     jsonb_build_object('cancelledAppointments', v_cancelled));
    -- For targets that keep copies of their own (a calendar, an SMS log):
    -- the id only, nothing erased.
    PERFORM bk_emit(p_org_id, 'contact.erased', p_contact_id,
                    jsonb_build_object('contactId', p_contact_id));
    RETURN jsonb_build_object('cancelledAppointments', v_cancelled);
END
$$;
