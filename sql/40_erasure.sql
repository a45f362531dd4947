-- The right to erasure (API.md, "Contacts").

-- DELETE /api/contacts/{id}: the right to erasure. Personal data goes from
-- everywhere it is stored: the contact's name, phone and email; the notes,
-- metadata and cancel reasons of all its appointments (the events carry
-- no copy: bk_event_payload reads the appointment); and the idempotency rows that replay its appointments
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
    v_cancelled int := 0;
BEGIN
    PERFORM 1 FROM contacts
     WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'contact not found' USING ERRCODE = 'BK002';
    END IF;

    -- Future confirmed appointments: cancelled and scrubbed in one update;
    -- the audit entry, which is their event, holds no personal data.
    FOR v_appt IN
        UPDATE appointments
           SET status = 'cancelled', cancelled_at = now(),
               notes = NULL, metadata = '{}', cancel_reason = NULL
         WHERE org_id = p_org_id AND contact_id = p_contact_id
           AND status = 'confirmed' AND scheduled_at > now()
        RETURNING *
    LOOP
        v_cancelled := v_cancelled + 1;
        PERFORM bk_audit(p_org_id, p_actor, 'appointment.cancelled', 'appointment', v_appt.id,
                         jsonb_build_object('providerId', v_appt.provider_id,
                                            'scheduledAt', bk_iso(v_appt.scheduled_at),
                                            'erasure', true),
                         'appointment.cancelled');
        PERFORM bk_appointment_ended(v_appt.id);
    END LOOP;

    -- All the others (past, cancelled, rescheduled) keep status and times.
    UPDATE appointments SET notes = NULL, metadata = '{}', cancel_reason = NULL
     WHERE org_id = p_org_id AND contact_id = p_contact_id
       AND (notes IS NOT NULL OR metadata <> '{}' OR cancel_reason IS NOT NULL);

    DELETE FROM idempotency_keys
     WHERE org_id = p_org_id
       AND (result -> 'appointment' ->> 'contactId' = v_id
            OR result -> 'previousAppointment' ->> 'contactId' = v_id);

    UPDATE contacts SET name = NULL, phone = NULL, email = NULL, erased_at = now()
     WHERE id = p_contact_id;
    -- The event is for targets that keep copies of their own (a calendar,
    -- an SMS log): the id only, nothing erased.
    PERFORM bk_audit(p_org_id, p_actor, 'contact.erased', 'contact', p_contact_id,
                     jsonb_build_object('cancelledAppointments', v_cancelled), 'contact.erased');
    RETURN jsonb_build_object('cancelledAppointments', v_cancelled);
END
$$;
