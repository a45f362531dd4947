-- A cheaper booking, each change measured (bench/HISTORY.md, step 9 on).
--
-- 1. Single-column rules of appointments become domains. PostgreSQL reads a
--    table's CHECK constraints from their stored text, plans and compiles
--    them again at the start of every INSERT; a domain's checks are compiled
--    once per connection (the type cache). Same rules, same SQLSTATE (23514).
-- 2. The cross-column rules become one CHECK, written with plain interval
--    arithmetic: make_interval(mins => ...) expanded to seven arguments on
--    every parse.
-- 3. Booking and rescheduling are rewritten for fewer statements and for a
--    loser of a race that writes nothing (see bk_take_bucket_locks).

CREATE DOMAIN bk_duration_minutes AS int CHECK (VALUE BETWEEN 1 AND 1440);
CREATE DOMAIN bk_buffer_minutes AS int CHECK (VALUE BETWEEN 0 AND 240);
CREATE DOMAIN bk_appointment_status AS text
    CHECK (VALUE IN ('confirmed', 'cancelled', 'rescheduled'));
CREATE DOMAIN bk_long_text AS text CHECK (length(VALUE) <= 2000);
CREATE DOMAIN bk_json_object AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');

ALTER TABLE appointments
    DROP CONSTRAINT appointments_duration_minutes_check,
    DROP CONSTRAINT appointments_buffer_before_minutes_check,
    DROP CONSTRAINT appointments_buffer_after_minutes_check,
    DROP CONSTRAINT appointments_status_check,
    DROP CONSTRAINT appointments_notes_check,
    DROP CONSTRAINT appointments_metadata_check,
    DROP CONSTRAINT appointments_cancel_reason_check,
    DROP CONSTRAINT appointments_check,
    DROP CONSTRAINT appointments_check1,
    DROP CONSTRAINT appointments_check2,
    DROP CONSTRAINT appointments_check3,
    DROP CONSTRAINT appointments_check4,
    ALTER COLUMN duration_minutes TYPE bk_duration_minutes,
    ALTER COLUMN buffer_before_minutes TYPE bk_buffer_minutes,
    ALTER COLUMN buffer_after_minutes TYPE bk_buffer_minutes,
    ALTER COLUMN status TYPE bk_appointment_status,
    ALTER COLUMN notes TYPE bk_long_text,
    ALTER COLUMN metadata TYPE bk_json_object,
    ALTER COLUMN cancel_reason TYPE bk_long_text,
    -- Derived columns are checked rather than trusted, so a caller that
    -- bypasses the booking functions cannot store an inconsistent range.
    ADD CONSTRAINT appointments_consistent CHECK (
        ends_at = scheduled_at + duration_minutes * interval '1 minute'
        AND buffered_start = scheduled_at - buffer_before_minutes * interval '1 minute'
        AND buffered_end = ends_at + buffer_after_minutes * interval '1 minute'
        AND (status = 'cancelled') = (cancelled_at IS NOT NULL)
        AND (status = 'rescheduled') = (rescheduled_to IS NOT NULL));

-- Takes the transaction-scoped advisory locks of every 15-minute bucket the
-- range [p_start, p_end) touches. The caller computes the keys (byte-
-- compatible with the original design's hashSlotToInt64) and passes them in
-- ascending order, so two bookings always lock in the same order and cannot
-- deadlock; the span [p_from, p_to) they cover must contain the range.
--
-- Returns the time spent waiting, in microseconds, or -1 when a bucket was
-- held by another transaction and a committed appointment already overlaps
-- the range (ignoring p_exclude_id): the caller reports that conflict
-- without queueing for the lock. Losers of a race for one slot thus answer
-- at once and in parallel, not one by one behind the winner, and a loser
-- that does queue writes nothing, so its commit needs no WAL flush.
--
-- Each call is a simple expression, not a PERFORM: PL/pgSQL evaluates those
-- without starting the executor.
CREATE FUNCTION bk_take_bucket_locks(p_keys bigint[], p_from timestamptz, p_to timestamptz,
                                     p_start timestamptz, p_end timestamptz, p_timeout_ms int,
                                     p_org_id uuid, p_provider_id uuid, p_exclude_id uuid)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_key bigint;
    v_prev bigint;
    v_started timestamptz;
    v_probed boolean := false;
    v_ignored text;
BEGIN
    IF cardinality(p_keys) IS NULL OR cardinality(p_keys) = 0
       OR p_from IS NULL OR p_to IS NULL OR p_start IS NULL OR p_end IS NULL
       OR p_from > p_start OR p_to < p_end THEN
        RAISE EXCEPTION 'lock keys do not cover the booked range' USING ERRCODE = 'BK005';
    END IF;
    v_ignored := set_config('lock_timeout', greatest(coalesce(p_timeout_ms, 2000), 1)::text, true);
    v_started := clock_timestamp();
    FOREACH v_key IN ARRAY p_keys LOOP
        IF v_key IS NULL OR v_key <= v_prev THEN
            RAISE EXCEPTION 'lock keys are not in ascending order' USING ERRCODE = 'BK005';
        END IF;
        IF NOT pg_try_advisory_xact_lock(v_key) THEN
            IF NOT v_probed THEN
                IF EXISTS (SELECT 1 FROM bk_find_conflict(p_org_id, p_provider_id, p_start,
                                                           p_end, p_exclude_id)) THEN
                    RETURN -1;
                END IF;
                v_probed := true;
            END IF;
            v_ignored := pg_advisory_xact_lock(v_key)::text;
        END IF;
        v_prev := v_key;
    END LOOP;
    RETURN floor(extract(epoch FROM clock_timestamp() - v_started) * 1000000)::bigint;
END
$$;

-- Book: returns {"status":"booked","appointment":{...}} or
-- {"status":"conflict","conflictingAppointment":{...}}, plus "lockWaitUs",
-- plus "replayed":true when an idempotency key replays a stored result.
-- p_public: the caller is the public booking page or the voice agent, who
-- may only book the future and inside the provider's working hours
-- (bk_within_working_hours, migrations/0004).
--
-- Lock order, the same for every writer so that none can deadlock: the
-- idempotency key's row, bucket locks, appointment rows, the contact's row.
-- The contact is read first without a lock (for a clear 400), then
-- key-share locked and read again after the insert: an erasure that
-- committed meanwhile makes the booking fail, and one that starts later
-- waits for this booking and then cancels it. With an idempotency key the
-- contact is locked before the key (erasure deletes keys that mention the
-- contact, after locking it); such a booking writes the key anyway.
CREATE OR REPLACE FUNCTION book_appointment_with_lock(
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
    v_json jsonb;
    v_result jsonb;
    v_in_hours boolean;
BEGIN
    SELECT EXISTS (SELECT 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id),
           EXISTS (SELECT 1 FROM contacts
                    WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL)
      INTO v_provider_ok, v_contact_ok;

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM 1 FROM contacts
          WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL FOR KEY SHARE;
        v_contact_ok := FOUND;
        v_replay := bk_claim_idempotency_key(p_org_id, p_idempotency_key, p_request_hash);
        IF v_replay IS NOT NULL THEN
            RETURN v_replay || '{"lockWaitUs": 0}';
        END IF;
    END IF;

    IF p_scheduled_at IS NULL THEN
        RAISE EXCEPTION 'scheduledAt is required' USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
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

    v_start := p_scheduled_at - v_before * interval '1 minute';
    v_end := p_scheduled_at + (v_duration + v_after) * interval '1 minute';
    -- Under the bucket locks only a committed appointment can overlap, and
    -- the exclusion constraint's own check finds it: a conflict inserts
    -- nothing, and only then is the conflicting appointment looked up. A
    -- conflict cancelled in between (cancel takes no bucket locks) sends
    -- the booking round again.
    FOR v_round IN 1..3 LOOP
        v_wait_us := bk_take_bucket_locks(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                          p_lock_timeout_ms, p_org_id, p_provider_id, NULL);
        IF v_wait_us >= 0 THEN
            INSERT INTO appointments (org_id, provider_id, contact_id, service_id,
                                      scheduled_at, duration_minutes, ends_at,
                                      buffer_before_minutes, buffer_after_minutes,
                                      buffered_start, buffered_end, notes, metadata)
            VALUES (p_org_id, p_provider_id, p_contact_id, p_service_id, p_scheduled_at,
                    v_duration, p_scheduled_at + v_duration * interval '1 minute', v_before,
                    v_after, v_start, v_end, p_notes, coalesce(p_metadata, '{}'))
            ON CONFLICT DO NOTHING
            RETURNING * INTO v_appt;
            EXIT WHEN v_appt.id IS NOT NULL;
        END IF;
        SELECT * INTO v_conflict
          FROM bk_find_conflict(p_org_id, p_provider_id, v_start, v_end, NULL);
        EXIT WHEN FOUND;
    END LOOP;

    IF v_appt.id IS NOT NULL THEN
        IF p_idempotency_key IS NULL THEN
            PERFORM 1 FROM contacts
              WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL FOR KEY SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'contactId does not exist'
                    USING ERRCODE = 'BK001', COLUMN = 'contactId';
            END IF;
        END IF;
        v_json := bk_appointment_json(v_appt);
        v_result := jsonb_build_object('status', 'booked', 'appointment', v_json);
        INSERT INTO audit_logs (org_id, actor, action, entity_type, entity_id, details)
        VALUES (p_org_id, p_actor, 'appointment.booked', 'appointment', v_appt.id,
                jsonb_build_object('providerId', v_appt.provider_id,
                                   'scheduledAt', v_json -> 'scheduledAt',
                                   'durationMinutes', v_duration));
        INSERT INTO outbox_events (org_id, event_type, entity_id, payload)
        VALUES (p_org_id, 'appointment.booked', v_appt.id,
                jsonb_build_object('appointment', v_json));
    ELSIF v_conflict.id IS NOT NULL THEN
        v_result := jsonb_build_object('status', 'conflict',
                                       'conflictingAppointment', bk_conflict_json(v_conflict));
        v_wait_us := greatest(v_wait_us, 0);
    ELSE
        RAISE EXCEPTION 'the slot kept changing while it was being booked'
            USING ERRCODE = '55P03';
    END IF;

    IF p_idempotency_key IS NOT NULL THEN
        PERFORM bk_store_idempotent_result(p_org_id, p_idempotency_key, v_result);
    END IF;
    RETURN v_result || jsonb_build_object('lockWaitUs', v_wait_us);
END
$$;

-- Reschedule: atomic. Locks the buckets of the old and the new range (the
-- caller passes the union, ascending; [p_lock_from, p_lock_to) is the span of
-- the new range's buckets), checks the new range ignoring the appointment
-- itself, then retires the old row as 'rescheduled' and inserts the new one.
-- Returns {"status":"rescheduled","appointment":new,"previousAppointment":old}
-- or {"status":"conflict",...}; "lockWaitUs" and "replayed" as for booking.
CREATE OR REPLACE FUNCTION reschedule_appointment_with_lock(
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

    v_wait_us := bk_take_bucket_locks(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                      p_lock_timeout_ms, p_org_id, v_provider,
                                      p_appointment_id);
    -- The row lock comes after the bucket locks: every writer takes bucket
    -- locks first (ascending) and then at most this one row, so no cycle.
    -- Without the locks (-1: a committed appointment holds the new range)
    -- the conflict below is reported as it stands.
    IF v_wait_us >= 0 THEN
        SELECT * INTO v_old FROM appointments WHERE id = p_appointment_id FOR UPDATE;
    END IF;
    IF v_old.status <> 'confirmed' THEN
        RAISE EXCEPTION 'only a confirmed appointment can be rescheduled (this one is %)',
            v_old.status USING ERRCODE = 'BK003';
    END IF;

    SELECT * INTO v_conflict
      FROM bk_find_conflict(p_org_id, v_provider, v_start, v_end, p_appointment_id);
    IF FOUND THEN
        v_result := jsonb_build_object('status', 'conflict',
                                       'conflictingAppointment', bk_conflict_json(v_conflict));
        v_wait_us := greatest(v_wait_us, 0);
    ELSIF v_wait_us < 0 THEN
        RAISE EXCEPTION 'the slot kept changing while it was being rescheduled'
            USING ERRCODE = '55P03';
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

DROP FUNCTION bk_lock_buckets(bigint[], timestamptz, timestamptz, timestamptz, timestamptz, int);

-- Only the service's own role may call these; nothing is granted to PUBLIC.
REVOKE EXECUTE ON FUNCTION
    bk_take_bucket_locks(bigint[], timestamptz, timestamptz, timestamptz, timestamptz, int,
                         uuid, uuid, uuid)
FROM PUBLIC;
