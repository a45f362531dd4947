-- Self-service links for patients (API.md, "Self-service links for
-- patients"): what a manage token opens, and cancelling through it. A
-- token is looked up by its SHA-256 (the C side hashes what the link
-- carries) and works while its appointment is confirmed and ahead: a
-- cancel, a reschedule or the start ends it. Rescheduling through a link is
-- reschedule_appointment_with_lock with the public rules, the actor
-- 'manage_link' and the new appointment's token (sql/10_booking.sql).

-- The appointment a token is for, while the token works (every field NULL
-- otherwise).
CREATE OR REPLACE FUNCTION bk_manage_appointment(p_hash bytea) RETURNS public.appointments
LANGUAGE sql STABLE
AS $$
SELECT a.* FROM manage_tokens t
  JOIN appointments a ON a.id = t.appointment_id AND a.org_id = t.org_id
 WHERE t.token_hash = p_hash AND a.status = 'confirmed' AND a.scheduled_at > now()
$$;

-- What a patient sees: the appointment's time and length, its provider and
-- service by name, and the practice; nothing about the contact.
CREATE OR REPLACE FUNCTION bk_manage_json(a public.appointments) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
SELECT jsonb_build_object(
    'appointment', jsonb_build_object(
        'id', a.id, 'scheduledAt', bk_iso(a.scheduled_at),
        'durationMinutes', a.duration_minutes, 'status', a.status,
        'providerName', (SELECT p.name FROM providers p WHERE p.id = a.provider_id),
        'serviceName', (SELECT s.name FROM services s WHERE s.id = a.service_id)),
    'organization', (SELECT jsonb_build_object('name', o.name, 'timezone', o.timezone)
                       FROM organizations o WHERE o.id = a.org_id))
$$;

-- GET /api/manage/{token}. BK002 for a token that does not work.
CREATE OR REPLACE FUNCTION manage_get(p_hash bytea) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    a appointments := bk_manage_appointment(p_hash);
BEGIN
    IF a.id IS NULL THEN
        RAISE EXCEPTION 'this link does not work (any more)' USING ERRCODE = 'BK002';
    END IF;
    RETURN bk_manage_json(a);
END
$$;

-- The free times a patient may move their appointment to, through its
-- link (GET /api/manage/{token}/availability and .../days): the
-- appointment's provider, length and service buffers, the public rules and
-- policies, and the appointment itself left out, so "a quarter of an hour
-- later" is offered when that is free. {"date","timezone","slots"} for a
-- date (p_to NULL), {"timezone","days"} for a range. BK002 for a token that
-- does not work.
CREATE OR REPLACE FUNCTION manage_free_slots(p_hash bytea, p_from date, p_to date,
                                             p_step_minutes int)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    a appointments := bk_manage_appointment(p_hash);
    v_tz text;
    v_before int := 0;
    v_after int := 0;
    v_body text;
BEGIN
    IF a.id IS NULL THEN
        RAISE EXCEPTION 'this link does not work (any more)' USING ERRCODE = 'BK002';
    END IF;
    SELECT o.timezone INTO v_tz FROM organizations o WHERE o.id = a.org_id;
    SELECT s.buffer_before_minutes, s.buffer_after_minutes INTO v_before, v_after
      FROM services s WHERE s.id = a.service_id;
    IF p_to IS NULL THEN
        SELECT '[' || coalesce(string_agg(format('{"scheduledAt":"%s","durationMinutes":%s}',
                                                 bk_iso(f.slot_start), a.duration_minutes),
                                          ',' ORDER BY f.slot_start), '') || ']'
          INTO v_body
          FROM free_slots(a.org_id, a.provider_id, p_from, a.duration_minutes,
                          coalesce(v_before, 0), coalesce(v_after, 0), p_step_minutes, now(),
                          true, a.id) f;
        RETURN format('{"date":"%s","timezone":%s,"slots":%s}', p_from, to_jsonb(v_tz), v_body);
    END IF;
    SELECT '[' || coalesce(string_agg(format('{"date":"%s","freeSlots":%s}', d.day,
                                             d.slot_count), ',' ORDER BY d.day), '') || ']'
      INTO v_body
      FROM free_slot_days(a.org_id, a.provider_id, p_from, p_to, a.duration_minutes,
                          coalesce(v_before, 0), coalesce(v_after, 0), p_step_minutes, now(),
                          true, a.id) d;
    RETURN format('{"timezone":%s,"days":%s}', to_jsonb(v_tz), v_body);
END
$$;

-- What the C side needs to reschedule through a token (the lock keys are
-- computed from these): the organization, the appointment, its provider,
-- default provider and time zone. No row for a token that does not work.
CREATE OR REPLACE FUNCTION manage_resolve(p_hash bytea)
RETURNS TABLE (org_id uuid, appointment_id uuid, default_provider_id uuid, timezone text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT a.org_id, a.id,
           (SELECT p.id FROM providers p WHERE p.org_id = a.org_id AND p.is_default), o.timezone
      FROM bk_manage_appointment(p_hash) a JOIN organizations o ON o.id = a.org_id
     WHERE a.id IS NOT NULL;
END
$$;

-- POST /api/manage/{token}/cancel: the organization's cancellation notice,
-- then the cancel every channel makes, by 'manage_link'. BK002 for a token
-- that does not work, BK003 too late.
CREATE OR REPLACE FUNCTION manage_cancel(p_hash bytea, p_lock_timeout_ms int) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    a appointments := bk_manage_appointment(p_hash);
    v_result jsonb;
BEGIN
    IF a.id IS NULL THEN
        RAISE EXCEPTION 'this link does not work (any more)' USING ERRCODE = 'BK002';
    END IF;
    PERFORM bk_check_change_notice(a.org_id, a.scheduled_at);
    v_result := cancel_appointment(a.org_id, a.id, NULL, p_lock_timeout_ms, 'manage_link');
    SELECT * INTO a FROM appointments WHERE id = a.id;
    RETURN jsonb_build_object('appointment', bk_manage_json(a) -> 'appointment');
END
$$;

-- A further token for an appointment: the link a text message carries, or
-- the one a replayed booking answers with (the first one is not kept in
-- the clear anywhere).
CREATE OR REPLACE FUNCTION manage_issue(p_org_id uuid, p_appointment_id uuid, p_hash bytea)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    INSERT INTO manage_tokens (token_hash, org_id, appointment_id, valid_until)
    SELECT p_hash, a.org_id, a.id, a.scheduled_at FROM appointments a
     WHERE a.org_id = p_org_id AND a.id = p_appointment_id AND a.status = 'confirmed';
END
$$;
