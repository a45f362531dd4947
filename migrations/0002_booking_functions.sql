-- The booking protocol. Each function is one transaction's worth of work,
-- called in one round trip. Errors are raised, not caught: a raised error
-- aborts the statement, so nothing is written, and the caller maps the
-- SQLSTATE (no EXCEPTION blocks, which would cost a subtransaction a call):
--   55P03 lock_not_available  -> slot_busy (lock_timeout expired)
--   23P01 exclusion_violation -> slot_unavailable (the constraint backstop)
--   BK001 invalid request, COLUMN names the API field at fault
--   BK002 not found
--   BK003 invalid state (e.g. rescheduling a cancelled appointment)
--   BK004 idempotency key reused with a different request
--   BK005 the caller's lock keys do not cover the range (a caller bug)
--
-- Entry points are SECURITY DEFINER with a pinned search_path. The bk_*
-- helpers are not: a SET clause would keep the planner from inlining the
-- SQL ones (re-planned on every call otherwise) and cost a GUC save and
-- restore per call; they run inside an entry point, under its search_path,
-- and EXECUTE on the ones that write is revoked from PUBLIC.
--
-- The entry points force generic plans: with custom plans, the planner
-- re-planned the range queries on every call (a custom plan never looked
-- cheaper than planning it), which doubled the cost of a booking. The
-- generic plan uses the exclusion constraint's GiST index all the same.

-- Timestamps exactly as JavaScript's toISOString() prints them.
CREATE FUNCTION bk_iso(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- The appointment object of the HTTP API.
CREATE FUNCTION bk_appointment_json(a public.appointments) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT jsonb_build_object(
    'id', a.id, 'providerId', a.provider_id, 'contactId', a.contact_id,
    'serviceId', a.service_id, 'scheduledAt', bk_iso(a.scheduled_at),
    'durationMinutes', a.duration_minutes, 'status', a.status,
    'notes', a.notes, 'metadata', a.metadata, 'createdAt', bk_iso(a.created_at),
    'cancelledAt', bk_iso(a.cancelled_at), 'rescheduledTo', a.rescheduled_to)
$$;

-- What a loser of a race learns about the winner.
CREATE FUNCTION bk_conflict_json(a public.appointments) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT jsonb_build_object('id', a.id, 'scheduledAt', bk_iso(a.scheduled_at),
                          'durationMinutes', a.duration_minutes)
$$;

-- The first confirmed appointment of the provider whose buffered range
-- overlaps [p_start, p_end), ignoring p_exclude_id. Uses the exclusion
-- constraint's GiST index.
CREATE FUNCTION bk_find_conflict(p_org_id uuid, p_provider_id uuid, p_start timestamptz,
                                 p_end timestamptz, p_exclude_id uuid)
RETURNS SETOF public.appointments
LANGUAGE sql STABLE
AS $$
SELECT * FROM appointments
 WHERE provider_id = p_provider_id AND org_id = p_org_id AND status = 'confirmed'
   AND tstzrange(buffered_start, buffered_end, '[)') && tstzrange(p_start, p_end, '[)')
   AND (p_exclude_id IS NULL OR id <> p_exclude_id)
 ORDER BY buffered_start
 LIMIT 1
$$;

-- Claims an idempotency key for this transaction. Returns NULL when the key
-- is new (or expired), so the caller goes on; otherwise the stored result
-- of the first request, marked as a replay. A concurrent twin blocks on the
-- key's primary key until the first request commits (or aborts), so it
-- never books a second time.
CREATE FUNCTION bk_claim_idempotency_key(p_org_id uuid, p_key text, p_request_hash bytea)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_claimed boolean;
    v_hash bytea;
    v_result jsonb;
BEGIN
    IF p_key IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO idempotency_keys AS k (org_id, key, request_hash, result)
    VALUES (p_org_id, p_key, p_request_hash, '{}')
    ON CONFLICT (org_id, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, result = '{}', created_at = now()
        WHERE k.created_at < now() - interval '24 hours'
    RETURNING true INTO v_claimed;
    IF v_claimed THEN
        RETURN NULL;
    END IF;
    SELECT request_hash, result INTO v_hash, v_result
      FROM idempotency_keys WHERE org_id = p_org_id AND key = p_key;
    IF v_hash <> p_request_hash THEN
        RAISE EXCEPTION 'Idempotency-Key was already used with a different request'
            USING ERRCODE = 'BK004';
    END IF;
    RETURN v_result || '{"replayed": true}';
END
$$;

CREATE FUNCTION bk_store_idempotent_result(p_org_id uuid, p_key text, p_result jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE idempotency_keys SET result = p_result WHERE org_id = p_org_id AND key = p_key;
END
$$;

-- Takes the transaction-scoped advisory locks of every 15-minute bucket
-- the range touches. The caller computes the keys (byte-compatible with the
-- original design's hashSlotToInt64) and passes them in ascending order, so
-- two bookings always lock in the same order and cannot deadlock; the span
-- [p_from, p_to) they cover must contain [p_start, p_end). Returns the time
-- spent waiting, in microseconds.
CREATE FUNCTION bk_lock_buckets(p_keys bigint[], p_from timestamptz, p_to timestamptz,
                                p_start timestamptz, p_end timestamptz, p_timeout_ms int)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_key bigint;
    v_prev bigint;
    v_started timestamptz;
BEGIN
    IF cardinality(p_keys) IS NULL OR cardinality(p_keys) = 0
       OR p_from IS NULL OR p_to IS NULL OR p_start IS NULL OR p_end IS NULL
       OR p_from > p_start OR p_to < p_end THEN
        RAISE EXCEPTION 'lock keys do not cover the booked range' USING ERRCODE = 'BK005';
    END IF;
    PERFORM set_config('lock_timeout', greatest(coalesce(p_timeout_ms, 2000), 1)::text, true);
    v_started := clock_timestamp();
    FOREACH v_key IN ARRAY p_keys LOOP
        IF v_key IS NULL OR v_key <= v_prev THEN
            RAISE EXCEPTION 'lock keys are not in ascending order' USING ERRCODE = 'BK005';
        END IF;
        PERFORM pg_advisory_xact_lock(v_key);
        v_prev := v_key;
    END LOOP;
    RETURN floor(extract(epoch FROM clock_timestamp() - v_started) * 1000000)::bigint;
END
$$;

CREATE FUNCTION bk_audit(p_org_id uuid, p_actor text, p_action text, p_entity_type text,
                         p_entity_id uuid, p_details jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO audit_logs (org_id, actor, action, entity_type, entity_id, details)
    VALUES (p_org_id, p_actor, p_action, p_entity_type, p_entity_id, p_details);
END
$$;

CREATE FUNCTION bk_emit(p_org_id uuid, p_type text, p_entity_id uuid, p_payload jsonb)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO outbox_events (org_id, event_type, entity_id, payload)
    VALUES (p_org_id, p_type, p_entity_id, p_payload);
END
$$;

-- Book: returns {"status":"booked","appointment":{...}} or
-- {"status":"conflict","conflictingAppointment":{...}}, plus "lockWaitUs",
-- plus "replayed":true when an idempotency key replays a stored result.
-- p_public: the caller is the public booking page or the voice agent, who
-- may only book the future and inside the provider's working hours
-- (bk_within_working_hours, migrations/0004).
CREATE FUNCTION book_appointment_with_lock(
    p_org_id uuid, p_provider_id uuid, p_contact_id uuid, p_service_id uuid,
    p_scheduled_at timestamptz, p_duration_minutes int, p_notes text, p_metadata jsonb,
    p_lock_keys bigint[], p_lock_from timestamptz, p_lock_to timestamptz,
    p_lock_timeout_ms int, p_actor text, p_idempotency_key text, p_request_hash bytea,
    p_public boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_replay jsonb;
    v_provider_ok boolean;
    v_contact_ok boolean;
    v_service services;
    v_duration int := p_duration_minutes;
    v_before int := 0;
    v_after int := 0;
    v_start timestamptz;
    v_end timestamptz;
    v_wait_us bigint;
    v_conflict appointments;
    v_appt appointments;
    v_result jsonb;
    v_in_hours boolean;
BEGIN
    -- Locks in one order for every writer: the contact's row, then the
    -- idempotency key's, then bucket locks, then appointment rows (erasure:
    -- contact, then the rows that mention it), so none can deadlock. A
    -- key-share lock, not a mere read: an erasure running now either
    -- finished before, and we see it, or waits for this booking and then
    -- cancels it. The insert's foreign key check would take it anyway, later.
    PERFORM 1 FROM contacts
      WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL FOR KEY SHARE;
    v_contact_ok := FOUND;

    IF p_idempotency_key IS NOT NULL THEN
        v_replay := bk_claim_idempotency_key(p_org_id, p_idempotency_key, p_request_hash);
        IF v_replay IS NOT NULL THEN
            RETURN v_replay || '{"lockWaitUs": 0}';
        END IF;
    END IF;

    IF p_scheduled_at IS NULL THEN
        RAISE EXCEPTION 'scheduledAt is required' USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    v_provider_ok := EXISTS (SELECT 1 FROM providers
                              WHERE org_id = p_org_id AND id = p_provider_id);
    IF NOT v_provider_ok THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    IF NOT v_contact_ok THEN
        RAISE EXCEPTION 'contactId does not exist' USING ERRCODE = 'BK001', COLUMN = 'contactId';
    END IF;
    IF p_service_id IS NOT NULL THEN
        SELECT * INTO v_service FROM services WHERE org_id = p_org_id AND id = p_service_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'serviceId does not exist' USING ERRCODE = 'BK001', COLUMN = 'serviceId';
        END IF;
        v_duration := coalesce(v_duration, v_service.duration_minutes);
        v_before := v_service.buffer_before_minutes;
        v_after := v_service.buffer_after_minutes;
    END IF;
    IF v_duration IS NULL OR v_duration NOT BETWEEN 1 AND 1440 THEN
        RAISE EXCEPTION 'durationMinutes must be an integer from 1 to 1440'
            USING ERRCODE = 'BK001', COLUMN = 'durationMinutes';
    END IF;

    IF p_public THEN
        IF p_scheduled_at < now() THEN
            RAISE EXCEPTION 'scheduledAt is in the past'
                USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
        END IF;
        SELECT bk_within_working_hours(p.working_hours, o.timezone, p_scheduled_at, v_duration)
          INTO v_in_hours
          FROM providers p JOIN organizations o ON o.id = p.org_id
         WHERE p.id = p_provider_id;
        IF NOT v_in_hours THEN
            RAISE EXCEPTION 'scheduledAt is outside the provider''s working hours'
                USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
        END IF;
    END IF;

    v_start := p_scheduled_at - make_interval(mins => v_before);
    v_end := p_scheduled_at + make_interval(mins => v_duration + v_after);
    v_wait_us := bk_lock_buckets(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                 p_lock_timeout_ms);

    SELECT * INTO v_conflict FROM bk_find_conflict(p_org_id, p_provider_id, v_start, v_end, NULL);
    IF FOUND THEN
        v_result := jsonb_build_object('status', 'conflict',
                                       'conflictingAppointment', bk_conflict_json(v_conflict));
    ELSE
        INSERT INTO appointments (org_id, provider_id, contact_id, service_id, scheduled_at,
                                  duration_minutes, ends_at, buffer_before_minutes,
                                  buffer_after_minutes, buffered_start, buffered_end, notes,
                                  metadata)
        VALUES (p_org_id, p_provider_id, p_contact_id, p_service_id, p_scheduled_at, v_duration,
                p_scheduled_at + make_interval(mins => v_duration), v_before, v_after, v_start,
                v_end, p_notes, coalesce(p_metadata, '{}'))
        RETURNING * INTO v_appt;
        v_result := jsonb_build_object('status', 'booked',
                                       'appointment', bk_appointment_json(v_appt));
        PERFORM bk_audit(p_org_id, p_actor, 'appointment.booked', 'appointment', v_appt.id,
                         jsonb_build_object('providerId', v_appt.provider_id,
                                            'scheduledAt', bk_iso(v_appt.scheduled_at),
                                            'durationMinutes', v_duration));
        PERFORM bk_emit(p_org_id, 'appointment.booked', v_appt.id,
                        jsonb_build_object('appointment', v_result -> 'appointment'));
    END IF;

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM bk_store_idempotent_result(p_org_id, p_idempotency_key, v_result);
    END IF;
    RETURN v_result || jsonb_build_object('lockWaitUs', v_wait_us);
END
$$;

-- Check: {"available":true} or {"available":false,"conflictingAppointment":{...}}.
-- Advisory only; takes no locks.
CREATE FUNCTION check_availability(p_org_id uuid, p_provider_id uuid, p_scheduled_at timestamptz,
                                   p_duration_minutes int, p_buffer_before_minutes int,
                                   p_buffer_after_minutes int, p_exclude_id uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_conflict appointments;
BEGIN
    IF p_scheduled_at IS NULL THEN
        RAISE EXCEPTION 'scheduledAt is required' USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    IF p_duration_minutes IS NULL OR p_duration_minutes NOT BETWEEN 1 AND 1440 THEN
        RAISE EXCEPTION 'durationMinutes must be an integer from 1 to 1440'
            USING ERRCODE = 'BK001', COLUMN = 'durationMinutes';
    END IF;
    IF coalesce(p_buffer_before_minutes, 0) NOT BETWEEN 0 AND 240
       OR coalesce(p_buffer_after_minutes, 0) NOT BETWEEN 0 AND 240 THEN
        RAISE EXCEPTION 'buffers must be from 0 to 240 minutes'
            USING ERRCODE = 'BK001', COLUMN = 'bufferMinutes';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id) THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    SELECT * INTO v_conflict FROM bk_find_conflict(
        p_org_id, p_provider_id,
        p_scheduled_at - make_interval(mins => coalesce(p_buffer_before_minutes, 0)),
        p_scheduled_at + make_interval(mins => p_duration_minutes
                                               + coalesce(p_buffer_after_minutes, 0)),
        p_exclude_id);
    IF FOUND THEN
        RETURN jsonb_build_object('available', false,
                                  'conflictingAppointment', bk_conflict_json(v_conflict));
    END IF;
    RETURN '{"available": true}';
END
$$;

-- Cancel: a soft delete that frees the slot at once. Cancelling a cancelled
-- appointment changes nothing ("status":"unchanged"); a rescheduled one is
-- BK003. Takes no bucket locks: freeing a range can never make an overlap.
CREATE FUNCTION cancel_appointment(p_org_id uuid, p_appointment_id uuid, p_reason text,
                                   p_lock_timeout_ms int, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_appt appointments;
    v_json jsonb;
BEGIN
    PERFORM set_config('lock_timeout', greatest(coalesce(p_lock_timeout_ms, 2000), 1)::text, true);
    SELECT * INTO v_appt FROM appointments
     WHERE org_id = p_org_id AND id = p_appointment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'appointment not found' USING ERRCODE = 'BK002';
    END IF;
    IF v_appt.status = 'cancelled' THEN
        RETURN jsonb_build_object('status', 'unchanged', 'appointment', bk_appointment_json(v_appt));
    END IF;
    IF v_appt.status = 'rescheduled' THEN
        RAISE EXCEPTION 'a rescheduled appointment cannot be cancelled; cancel its new appointment'
            USING ERRCODE = 'BK003';
    END IF;
    UPDATE appointments SET status = 'cancelled', cancelled_at = now(), cancel_reason = p_reason
     WHERE id = p_appointment_id
    RETURNING * INTO v_appt;
    v_json := bk_appointment_json(v_appt);
    -- The reason is free text and may hold personal data: not in the audit log.
    PERFORM bk_audit(p_org_id, p_actor, 'appointment.cancelled', 'appointment', v_appt.id,
                     jsonb_build_object('providerId', v_appt.provider_id,
                                        'scheduledAt', bk_iso(v_appt.scheduled_at)));
    PERFORM bk_emit(p_org_id, 'appointment.cancelled', v_appt.id,
                    jsonb_build_object('appointment', v_json));
    RETURN jsonb_build_object('status', 'cancelled', 'appointment', v_json);
END
$$;

-- Reschedule: atomic. Locks the buckets of the old and the new range (the
-- caller passes the union, ascending; [p_lock_from, p_lock_to) is the span of
-- the new range's buckets), checks the new range ignoring the appointment
-- itself, then retires the old row as 'rescheduled' and inserts the new one.
-- Returns {"status":"rescheduled","appointment":new,"previousAppointment":old}
-- or {"status":"conflict",...}; "lockWaitUs" and "replayed" as for booking.
CREATE FUNCTION reschedule_appointment_with_lock(
    p_org_id uuid, p_appointment_id uuid, p_provider_id uuid, p_scheduled_at timestamptz,
    p_duration_minutes int, p_lock_keys bigint[], p_lock_from timestamptz,
    p_lock_to timestamptz, p_lock_timeout_ms int, p_actor text, p_idempotency_key text,
    p_request_hash bytea)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_replay jsonb;
    v_old appointments;
    v_new appointments;
    v_provider uuid;
    v_duration int;
    v_start timestamptz;
    v_end timestamptz;
    v_wait_us bigint;
    v_conflict appointments;
    v_result jsonb;
    v_contact_ok boolean;
BEGIN
    -- Everything but the status of an appointment is immutable, so what is
    -- read here without a lock is what the caller computed the keys from.
    SELECT * INTO v_old FROM appointments WHERE org_id = p_org_id AND id = p_appointment_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'appointment not found' USING ERRCODE = 'BK002';
    END IF;
    -- Lock order as in booking: contact, idempotency key, buckets, rows.
    PERFORM 1 FROM contacts
      WHERE org_id = p_org_id AND id = v_old.contact_id AND erased_at IS NULL FOR KEY SHARE;
    v_contact_ok := FOUND;

    IF p_idempotency_key IS NOT NULL THEN
        v_replay := bk_claim_idempotency_key(p_org_id, p_idempotency_key, p_request_hash);
        IF v_replay IS NOT NULL THEN
            RETURN v_replay || '{"lockWaitUs": 0}';
        END IF;
    END IF;

    IF p_scheduled_at IS NULL THEN
        RAISE EXCEPTION 'scheduledAt is required' USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    v_provider := coalesce(p_provider_id, v_old.provider_id);
    IF p_provider_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id) THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    v_duration := coalesce(p_duration_minutes, v_old.duration_minutes);
    IF v_duration NOT BETWEEN 1 AND 1440 THEN
        RAISE EXCEPTION 'durationMinutes must be an integer from 1 to 1440'
            USING ERRCODE = 'BK001', COLUMN = 'durationMinutes';
    END IF;
    v_start := p_scheduled_at - make_interval(mins => v_old.buffer_before_minutes);
    v_end := p_scheduled_at + make_interval(mins => v_duration + v_old.buffer_after_minutes);

    IF NOT v_contact_ok THEN
        RAISE EXCEPTION 'the contact of this appointment was erased' USING ERRCODE = 'BK003';
    END IF;

    v_wait_us := bk_lock_buckets(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                 p_lock_timeout_ms);
    -- The row lock comes after the bucket locks: every writer takes bucket
    -- locks first (ascending) and then at most this one row, so no cycle.
    SELECT * INTO v_old FROM appointments WHERE id = p_appointment_id FOR UPDATE;
    IF v_old.status <> 'confirmed' THEN
        RAISE EXCEPTION 'only a confirmed appointment can be rescheduled (this one is %)',
            v_old.status USING ERRCODE = 'BK003';
    END IF;

    SELECT * INTO v_conflict
      FROM bk_find_conflict(p_org_id, v_provider, v_start, v_end, p_appointment_id);
    IF FOUND THEN
        v_result := jsonb_build_object('status', 'conflict',
                                       'conflictingAppointment', bk_conflict_json(v_conflict));
    ELSE
        v_new.id := gen_random_uuid();
        UPDATE appointments SET status = 'rescheduled', rescheduled_to = v_new.id
         WHERE id = p_appointment_id
        RETURNING * INTO v_old;
        INSERT INTO appointments (id, org_id, provider_id, contact_id, service_id, scheduled_at,
                                  duration_minutes, ends_at, buffer_before_minutes,
                                  buffer_after_minutes, buffered_start, buffered_end, notes,
                                  metadata, rescheduled_from)
        VALUES (v_new.id, p_org_id, v_provider, v_old.contact_id, v_old.service_id,
                p_scheduled_at, v_duration, p_scheduled_at + make_interval(mins => v_duration),
                v_old.buffer_before_minutes, v_old.buffer_after_minutes, v_start, v_end,
                v_old.notes, v_old.metadata, v_old.id)
        RETURNING * INTO v_new;
        v_result := jsonb_build_object('status', 'rescheduled',
                                       'appointment', bk_appointment_json(v_new),
                                       'previousAppointment', bk_appointment_json(v_old));
        PERFORM bk_audit(p_org_id, p_actor, 'appointment.rescheduled', 'appointment', v_old.id,
                         jsonb_build_object('newAppointmentId', v_new.id,
                                            'scheduledAt', bk_iso(v_new.scheduled_at),
                                            'previousScheduledAt', bk_iso(v_old.scheduled_at)));
        PERFORM bk_audit(p_org_id, p_actor, 'appointment.booked', 'appointment', v_new.id,
                         jsonb_build_object('providerId', v_new.provider_id,
                                            'scheduledAt', bk_iso(v_new.scheduled_at),
                                            'durationMinutes', v_duration,
                                            'rescheduledFrom', v_old.id));
        PERFORM bk_emit(p_org_id, 'appointment.rescheduled', v_new.id,
                        jsonb_build_object('appointment', v_result -> 'appointment',
                                           'previousAppointmentId', v_old.id));
    END IF;

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM bk_store_idempotent_result(p_org_id, p_idempotency_key, v_result);
    END IF;
    RETURN v_result || jsonb_build_object('lockWaitUs', v_wait_us);
END
$$;

-- Only the service's own role may call these; nothing is granted to PUBLIC.
REVOKE EXECUTE ON FUNCTION
    book_appointment_with_lock(uuid, uuid, uuid, uuid, timestamptz, int, text, jsonb, bigint[],
                               timestamptz, timestamptz, int, text, text, bytea, boolean),
    reschedule_appointment_with_lock(uuid, uuid, uuid, timestamptz, int, bigint[], timestamptz,
                                     timestamptz, int, text, text, bytea),
    cancel_appointment(uuid, uuid, text, int, text),
    check_availability(uuid, uuid, timestamptz, int, int, int, uuid),
    bk_claim_idempotency_key(uuid, text, bytea),
    bk_store_idempotent_result(uuid, text, jsonb),
    bk_lock_buckets(bigint[], timestamptz, timestamptz, timestamptz, timestamptz, int),
    bk_audit(uuid, text, text, text, uuid, jsonb),
    bk_emit(uuid, text, uuid, jsonb)
FROM PUBLIC;
