-- Slot holds (docs/design.md, "Slot holds"): keep a time for a caller who
-- is still deciding. A hold is a row of appointments with status 'held'
-- and an expires_at, taken under the booking's bucket locks and inside its
-- exclusion constraint; POST /api/appointments with a holdId converts it
-- (bk_convert_hold, sql/10_booking.sql). Holds carry no contact and no
-- personal data, and write no outbox event: they are not appointments.

-- Hold: returns {"status":"held","hold":{...}} or {"status":"conflict",
-- "conflictingAppointment"|"conflictingHold":{...}}, plus "lockWaitUs". The
-- rules of booking apply (p_public: only the future, only in working
-- hours). A public caller is refused (BK006) when the organization already
-- has p_max_public unexpired holds, whoever made them (0: no cap), so nobody
-- can hold a whole calendar from the booking page.
CREATE OR REPLACE FUNCTION hold_slot(
    p_org_id uuid, p_provider_id uuid, p_service_id uuid, p_scheduled_at timestamptz,
    p_duration_minutes int, p_ttl_seconds int, p_lock_keys bigint[], p_lock_from timestamptz,
    p_lock_to timestamptz, p_lock_timeout_ms int, p_actor text, p_public boolean,
    p_max_public int, p_idempotency_key text DEFAULT NULL, p_request_hash bytea DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_duration int := p_duration_minutes;
    v_before int := 0;
    v_after int := 0;
    v_start timestamptz;
    v_end timestamptz;
    v_wait_us bigint;
    v_conflict appointments;
    v_hold appointments;
    v_result jsonb;
    v_replay jsonb;
BEGIN
    PERFORM bk_lock_budget(p_lock_timeout_ms);
    -- Lock order (docs/design.md): the organization's hold lock, the
    -- idempotency key, the buckets. The key is claimed before anything is
    -- judged, so a retry of a hold made a minute ago replays it rather than
    -- being refused as in the past.
    IF p_public AND p_max_public > 0 THEN
        -- Public holds count the organization's holds one at a time:
        -- without it, holds on different slots take different bucket locks,
        -- all count below the cap, and all insert. The two-int form is a
        -- lock space apart from the bigint bucket keys.
        PERFORM pg_advisory_xact_lock(1, hashtext(p_org_id::text));
    END IF;
    v_replay := bk_claim_idempotency_key(p_org_id, p_actor, p_idempotency_key, p_request_hash);
    IF v_replay IS NOT NULL THEN
        RETURN v_replay;
    END IF;
    IF p_scheduled_at IS NULL THEN
        RAISE EXCEPTION 'scheduledAt is required' USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id) THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    IF p_service_id IS NOT NULL THEN
        SELECT * INTO v_duration, v_before, v_after
          FROM bk_service_shape(p_org_id, p_service_id, p_duration_minutes);
    END IF;
    PERFORM bk_require_between(v_duration, 1, 1440, 'durationMinutes');
    PERFORM bk_require_between(p_ttl_seconds, 30, 900, 'ttlSeconds');
    IF p_public THEN
        PERFORM bk_check_public_time(p_provider_id, p_scheduled_at, v_duration);
        IF p_max_public > 0 AND (SELECT count(*) FROM (
                SELECT 1 FROM appointments
                 WHERE org_id = p_org_id AND status = 'held' AND expires_at > clock_timestamp()
                 LIMIT p_max_public) h) >= p_max_public THEN
            RAISE EXCEPTION 'too many times are held at once; try again in a few minutes'
                USING ERRCODE = 'BK006';
        END IF;
    END IF;

    v_start := p_scheduled_at - v_before * interval '1 minute';
    v_end := p_scheduled_at + (v_duration + v_after) * interval '1 minute';
    FOR v_round IN 1..3 LOOP
        v_wait_us := bk_take_bucket_locks(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                          p_lock_timeout_ms, p_org_id, p_provider_id, NULL);
        IF v_wait_us >= 0 THEN
            v_hold := bk_insert_appointment(NULL, p_org_id, p_provider_id, NULL, p_service_id,
                                            p_scheduled_at, v_duration, v_before, v_after, NULL,
                                            NULL, NULL,
                                            clock_timestamp() + p_ttl_seconds * interval '1 second');
            EXIT WHEN v_hold.id IS NOT NULL;
        END IF;
        SELECT * INTO v_conflict
          FROM bk_find_conflict(p_org_id, p_provider_id, v_start, v_end, NULL, clock_timestamp());
        EXIT WHEN FOUND;
    END LOOP;

    IF v_hold.id IS NOT NULL THEN
        v_result := jsonb_build_object('status', 'held', 'hold', bk_hold_json(v_hold));
        PERFORM bk_audit(p_org_id, p_actor, 'hold.created', 'hold', v_hold.id,
                         jsonb_build_object('providerId', v_hold.provider_id,
                                            'scheduledAt', bk_iso(v_hold.scheduled_at),
                                            'durationMinutes', v_hold.duration_minutes,
                                            'expiresAt', bk_iso(v_hold.expires_at)));
    ELSE
        v_result := bk_conflict_result(v_conflict);
        v_wait_us := greatest(v_wait_us, 0);
    END IF;
    RETURN bk_finish(p_org_id, p_actor, p_idempotency_key, v_result, v_wait_us);
END
$$;

-- Release: deletes the hold, freeing its time at once (no bucket locks:
-- freeing a range can never make an overlap). {"status":"released"}, or
-- {"status":"expired"} for a hold whose time was up (gone for everyone
-- already; the API answers 404 as for an unknown one), or BK002 for an
-- unknown or consumed hold or one of another organization. A conversion
-- holding the row wins: the release then finds no hold.
CREATE OR REPLACE FUNCTION release_hold(p_org_id uuid, p_hold_id uuid, p_lock_timeout_ms int,
                                        p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_hold appointments;
BEGIN
    PERFORM bk_lock_budget(p_lock_timeout_ms);
    DELETE FROM appointments WHERE org_id = p_org_id AND id = p_hold_id AND status = 'held'
    RETURNING * INTO v_hold;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'hold not found' USING ERRCODE = 'BK002';
    END IF;
    IF v_hold.expires_at <= clock_timestamp() THEN
        RETURN '{"status": "expired"}';
    END IF;
    PERFORM bk_audit(p_org_id, p_actor, 'hold.released', 'hold', v_hold.id,
                     jsonb_build_object('providerId', v_hold.provider_id,
                                        'scheduledAt', bk_iso(v_hold.scheduled_at)));
    RETURN '{"status": "released"}';
END
$$;

-- Removes up to p_batch holds whose time is up (the worker's housekeeping;
-- the booking functions remove those in their way themselves). Returns how
-- many. No locks needed: freeing a range can never make an overlap, and a
-- conversion that holds a row makes it no longer a hold.
CREATE OR REPLACE FUNCTION holds_purge(p_batch int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
    v_removed int;
BEGIN
    DELETE FROM appointments
     WHERE id IN (SELECT id FROM appointments
                   WHERE status = 'held' AND expires_at <= clock_timestamp()
                   LIMIT p_batch)
       AND status = 'held' AND expires_at <= clock_timestamp();
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    RETURN v_removed;
END
$$;
