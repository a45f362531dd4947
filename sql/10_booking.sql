-- The booking protocol: book, cancel, reschedule (docs/design.md, "The
-- booking protocol"). Each entry point is one transaction's worth of work
-- in one round trip. Every writer takes its locks in the one order written
-- down in docs/design.md, "Lock order"; the comments below say where each
-- function stands in it.

-- The first busy time imported from the provider's calendar (API.md,
-- "Integrations") overlapping [p_start, p_end), as a row of appointments
-- with status 'busy' and no id (its times are the busy time's), so that
-- every conflict path reports it as it reports an appointment
-- (bk_conflict_member: "conflictingBusy").
CREATE OR REPLACE FUNCTION bk_find_busy(p_provider_id uuid, p_start timestamptz,
                                        p_end timestamptz)
RETURNS SETOF public.appointments
LANGUAGE sql STABLE
AS $$
SELECT (jsonb_populate_record(NULL::public.appointments, jsonb_build_object(
           'provider_id', p_provider_id, 'scheduled_at', lower(b.during),
           'ends_at', upper(b.during), 'buffered_start', lower(b.during),
           'buffered_end', upper(b.during), 'status', 'busy'))).*
  FROM busy_times b
 WHERE b.provider_id = p_provider_id AND b.during && tstzrange(p_start, p_end, '[)')
 ORDER BY lower(b.during)
 LIMIT 1
$$;

-- The first active row of the provider (a confirmed appointment, a hold
-- unexpired at p_now, or a busy time) whose buffered range overlaps [p_start, p_end),
-- ignoring p_exclude_id. Uses the exclusion constraint's GiST index. The
-- caller passes the clock (clock_timestamp() for "at once"): read here, it
-- would make the function volatile and keep the planner from inlining it.
CREATE OR REPLACE FUNCTION bk_find_conflict(p_org_id uuid, p_provider_id uuid,
                                            p_start timestamptz, p_end timestamptz,
                                            p_exclude_id uuid, p_now timestamptz)
RETURNS SETOF public.appointments
LANGUAGE sql STABLE
AS $$
SELECT * FROM (
    (SELECT * FROM appointments
      WHERE provider_id = p_provider_id AND org_id = p_org_id AND status IN ('confirmed', 'held')
        AND (expires_at IS NULL OR expires_at > p_now)
        AND tstzrange(buffered_start, buffered_end, '[)') && tstzrange(p_start, p_end, '[)')
        AND (p_exclude_id IS NULL OR id <> p_exclude_id)
      ORDER BY buffered_start
      LIMIT 1)
    UNION ALL
    SELECT * FROM bk_find_busy(p_provider_id, p_start, p_end)) c
 ORDER BY c.buffered_start
 LIMIT 1
$$;

-- Deletes the expired holds of the provider that overlap [p_start, p_end):
-- they conflict with nothing, yet still sit in the exclusion constraint
-- until removed. The caller holds the range's bucket locks. Adds the count
-- to bk.expired_holds, which bk_finish reports (the holds metric).
CREATE OR REPLACE FUNCTION bk_remove_expired_holds(p_org_id uuid, p_provider_id uuid,
                                                   p_start timestamptz, p_end timestamptz)
RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
    v_removed int;
BEGIN
    DELETE FROM appointments
     WHERE provider_id = p_provider_id AND org_id = p_org_id AND status = 'held'
       AND expires_at <= clock_timestamp()
       AND tstzrange(buffered_start, buffered_end, '[)') && tstzrange(p_start, p_end, '[)');
    GET DIAGNOSTICS v_removed = ROW_COUNT;
    IF v_removed > 0 THEN
        PERFORM set_config('bk.expired_holds',
                           (coalesce(nullif(current_setting('bk.expired_holds', true), ''), '0')::int
                            + v_removed)::text, true);
    END IF;
    RETURN v_removed;
END
$$;

-- The lock wait of a whole booking is one budget (DESIGN.md, "Time limits
-- everywhere"): the first call in a transaction sets its deadline,
-- p_timeout_ms from now, in the transaction-local setting
-- bookd.lock_deadline; every call sets lock_timeout to what is left of it,
-- so that the waits of every bucket, every retry round, the contact's row
-- and the hold's row add up to at most the budget, not to a budget each.
-- A budget spent raises 55P03 (lock_not_available), the error a lock
-- timeout raises, which the caller answers as slot_busy. The entry points
-- call it once before their first lock, and bk_take_bucket_locks again only
-- before a wait that may block, so the uncontended path pays for one call.
CREATE OR REPLACE FUNCTION bk_lock_budget(p_timeout_ms int) RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
    v_now float8 := extract(epoch FROM clock_timestamp()) * 1000;
    v_deadline text := current_setting('bookd.lock_deadline', true);
    v_left int;
    v_ignored text;
BEGIN
    IF v_deadline IS NULL OR v_deadline = '' THEN
        v_deadline := (v_now + greatest(coalesce(p_timeout_ms, 2000), 1))::text;
        v_ignored := set_config('bookd.lock_deadline', v_deadline, true);
    END IF;
    v_left := floor(v_deadline::float8 - v_now)::int;
    IF v_left < 1 THEN
        RAISE EXCEPTION 'the wait for this booking''s locks is spent'
            USING ERRCODE = '55P03';
    END IF;
    v_ignored := set_config('lock_timeout', v_left::text, true);
    RETURN v_left;
END
$$;

-- Key-share locks the contact's row (docs/design.md, "Lock order") and says
-- whether the contact exists and is not erased: an erasure that committed
-- first is seen, one that starts later waits for this transaction.
CREATE OR REPLACE FUNCTION bk_lock_contact(p_org_id uuid, p_contact_id uuid) RETURNS boolean
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM contacts
      WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL
      FOR KEY SHARE SKIP LOCKED;
    IF FOUND THEN
        RETURN true;
    END IF;
    -- Taken (an erasure in progress) or absent: wait, within the budget.
    PERFORM bk_lock_budget(NULL);
    PERFORM 1 FROM contacts
      WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL FOR KEY SHARE;
    RETURN FOUND;
END
$$;

-- The kind of key an actor speaks for ("admin_key:<id>" -> "admin",
-- "public_key:<id>" -> "public", "vapi" -> "vapi"): idempotency keys are
-- scoped to it, so an answer given to one kind of key is never replayed to
-- another (API.md, "Book").
CREATE OR REPLACE FUNCTION bk_actor_kind(p_actor text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN position('_key:' IN p_actor) > 0 THEN split_part(p_actor, '_key:', 1)
            ELSE p_actor END
$$;

-- Claims an idempotency key for this transaction. Returns NULL when the key
-- is new (or expired), or there is none (p_key NULL), so the caller goes
-- on; otherwise the stored result
-- of the first request, marked as a replay (that waited for no lock), which
-- the entry point returns as it is. A concurrent twin blocks on the
-- key's primary key until the first request commits (or aborts), so it
-- never books a second time. Keys older than 24 h are reclaimed in place.
CREATE OR REPLACE FUNCTION bk_claim_idempotency_key(p_org_id uuid, p_actor text, p_key text,
                                                    p_request_hash bytea)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_kind text := bk_actor_kind(p_actor);
    v_claimed boolean;
    v_hash bytea;
    v_result jsonb;
BEGIN
    IF p_key IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO idempotency_keys AS k (org_id, key_kind, key, request_hash, result)
    VALUES (p_org_id, v_kind, p_key, p_request_hash, '{}')
    ON CONFLICT (org_id, key_kind, key) DO UPDATE
        SET request_hash = EXCLUDED.request_hash, result = '{}', created_at = now()
        WHERE k.created_at < now() - interval '24 hours'
    RETURNING true INTO v_claimed;
    IF v_claimed THEN
        RETURN NULL;
    END IF;
    SELECT request_hash, result INTO v_hash, v_result
      FROM idempotency_keys WHERE org_id = p_org_id AND key_kind = v_kind AND key = p_key;
    IF v_hash <> p_request_hash THEN
        RAISE EXCEPTION 'Idempotency-Key was already used with a different request'
            USING ERRCODE = 'BK004';
    END IF;
    RETURN v_result || '{"replayed": true, "lockWaitUs": 0}';
END
$$;

-- The answer of a booking, hold or reschedule that wrote nothing: the
-- conflict it met ("conflictingHold" for a hold, which never says whose),
-- or, when there was none to name after three rounds (each conflict
-- cancelled before it could be read), 55P03, which the caller reports as
-- slot_busy.
CREATE OR REPLACE FUNCTION bk_conflict_result(p_conflict public.appointments)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_conflict.id IS NULL AND p_conflict.status IS DISTINCT FROM 'busy' THEN
        RAISE EXCEPTION 'the slot kept changing while it was being booked'
            USING ERRCODE = '55P03';
    END IF;
    RETURN jsonb_build_object('status', 'conflict') || bk_conflict_member(p_conflict);
END
$$;

-- Stores the result a replay of the key will return, and returns it with
-- the lock wait added (what the entry points answer), and the count of
-- expired holds this transaction removed, when there were any (counted by
-- the caller; never part of a replay).
CREATE OR REPLACE FUNCTION bk_finish(p_org_id uuid, p_actor text, p_key text, p_result jsonb,
                                     p_wait_us bigint)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_expired text := nullif(current_setting('bk.expired_holds', true), '');
BEGIN
    IF p_key IS NOT NULL THEN
        UPDATE idempotency_keys SET result = p_result
         WHERE org_id = p_org_id AND key_kind = bk_actor_kind(p_actor) AND key = p_key;
    END IF;
    IF v_expired IS NOT NULL THEN
        RETURN p_result || jsonb_build_object('lockWaitUs', p_wait_us,
                                              'expiredHolds', v_expired::int);
    END IF;
    RETURN p_result || jsonb_build_object('lockWaitUs', p_wait_us);
END
$$;

-- The duration and buffers of a booking or hold with a service: the
-- service's buffers, and its duration unless one is given. BK001 for an
-- unknown service.
CREATE OR REPLACE FUNCTION bk_service_shape(p_org_id uuid, p_service_id uuid, p_duration int,
                                            OUT duration int, OUT before int, OUT after int)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    SELECT coalesce(p_duration, s.duration_minutes), s.buffer_before_minutes,
           s.buffer_after_minutes
      INTO duration, before, after
      FROM services s WHERE s.org_id = p_org_id AND s.id = p_service_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'serviceId does not exist' USING ERRCODE = 'BK001', COLUMN = 'serviceId';
    END IF;
END
$$;

-- The public rules (the booking page, the voice agent, manage links): only
-- the future, inside the provider's working hours, and within the
-- organization's booking policies (no sooner than its minimum notice, no
-- further ahead than its horizon). BK001 naming scheduledAt, saying why.
CREATE OR REPLACE FUNCTION bk_check_public_time(p_provider_id uuid, p_scheduled_at timestamptz,
                                                p_duration int)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_in_hours boolean;
    v_notice int;
    v_horizon int;
BEGIN
    IF p_scheduled_at < now() THEN
        RAISE EXCEPTION 'scheduledAt is in the past'
            USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    SELECT bk_within_working_hours(p.working_hours, o.timezone, p_scheduled_at, p_duration),
           o.minimum_notice_minutes, o.booking_horizon_days
      INTO v_in_hours, v_notice, v_horizon
      FROM providers p JOIN organizations o ON o.id = p.org_id
     WHERE p.id = p_provider_id;
    IF p_scheduled_at < now() + v_notice * interval '1 minute' THEN
        RAISE EXCEPTION 'scheduledAt is too soon: this practice takes bookings at least % ahead',
            bk_say_minutes(v_notice) USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    IF v_horizon > 0 AND p_scheduled_at > now() + v_horizon * interval '1 day' THEN
        RAISE EXCEPTION 'scheduledAt is too far ahead: this practice takes bookings at most % '
                        'day(s) ahead', v_horizon USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
    IF NOT v_in_hours THEN
        RAISE EXCEPTION 'scheduledAt is outside the provider''s working hours'
            USING ERRCODE = 'BK001', COLUMN = 'scheduledAt';
    END IF;
END
$$;

-- "90 minutes", "2 hours", "1 day": a notice as a message says it.
CREATE OR REPLACE FUNCTION bk_say_minutes(p_minutes int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN p_minutes % 1440 = 0 THEN (p_minutes / 1440) || CASE WHEN p_minutes = 1440 THEN ' day' ELSE ' days' END
            WHEN p_minutes % 60 = 0 THEN (p_minutes / 60) || CASE WHEN p_minutes = 60 THEN ' hour' ELSE ' hours' END
            ELSE p_minutes || CASE WHEN p_minutes = 1 THEN ' minute' ELSE ' minutes' END END
$$;

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
CREATE OR REPLACE FUNCTION bk_take_bucket_locks(p_keys bigint[], p_from timestamptz,
                                                p_to timestamptz, p_start timestamptz,
                                                p_end timestamptz, p_timeout_ms int,
                                                p_org_id uuid, p_provider_id uuid,
                                                p_exclude_id uuid)
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
    v_started := clock_timestamp();
    FOREACH v_key IN ARRAY p_keys LOOP
        IF v_key IS NULL OR v_key <= v_prev THEN
            RAISE EXCEPTION 'lock keys are not in ascending order' USING ERRCODE = 'BK005';
        END IF;
        IF NOT pg_try_advisory_xact_lock(v_key) THEN
            IF NOT v_probed THEN
                IF EXISTS (SELECT 1 FROM bk_find_conflict(p_org_id, p_provider_id, p_start,
                                                           p_end, p_exclude_id,
                                                           clock_timestamp())) THEN
                    RETURN -1;
                END IF;
                v_probed := true;
            END IF;
            v_ignored := bk_lock_budget(p_timeout_ms)::text;
            v_ignored := pg_advisory_xact_lock(v_key)::text;
        END IF;
        v_prev := v_key;
    END LOOP;
    RETURN floor(extract(epoch FROM clock_timestamp() - v_started) * 1000000)::bigint;
END
$$;

-- Inserts a confirmed appointment, or a hold when p_expires_at is given,
-- or nothing when its buffered range overlaps an active row or a busy time
-- (then every field of the result is NULL). Under the bucket locks only a committed row
-- can overlap, and the exclusion constraint's own check finds it: there is
-- no separate probe on the way to a booking. Only when that check refuses
-- are expired holds in the range looked for, removed, and the insert tried
-- once more, so they cost the common path nothing. p_id NULL: a new id,
-- time-ordered (bk_uuid7, migration 0018).
CREATE OR REPLACE FUNCTION bk_insert_appointment(
    p_id uuid, p_org_id uuid, p_provider_id uuid, p_contact_id uuid, p_service_id uuid,
    p_scheduled_at timestamptz, p_duration int, p_before int, p_after int, p_notes text,
    p_metadata jsonb, p_rescheduled_from uuid, p_expires_at timestamptz DEFAULT NULL)
RETURNS public.appointments
LANGUAGE plpgsql
AS $$
DECLARE
    v_appt appointments;
BEGIN
    -- Busy times imported from the provider's calendar are outside the
    -- exclusion constraint: one probe of their index, under the same locks.
    PERFORM 1 FROM busy_times
      WHERE provider_id = p_provider_id
        AND during && tstzrange(p_scheduled_at - p_before * interval '1 minute',
                                p_scheduled_at + (p_duration + p_after) * interval '1 minute',
                                '[)');
    IF FOUND THEN
        RETURN v_appt;
    END IF;
    FOR v_try IN 1..2 LOOP
        INSERT INTO appointments (id, org_id, provider_id, contact_id, service_id, scheduled_at,
                                  duration_minutes, ends_at, buffer_before_minutes,
                                  buffer_after_minutes, buffered_start, buffered_end, notes,
                                  metadata, rescheduled_from, status, expires_at)
        VALUES (coalesce(p_id, bk_uuid7()), p_org_id, p_provider_id, p_contact_id,
                p_service_id, p_scheduled_at, p_duration,
                p_scheduled_at + p_duration * interval '1 minute', p_before, p_after,
                p_scheduled_at - p_before * interval '1 minute',
                p_scheduled_at + (p_duration + p_after) * interval '1 minute', p_notes,
                coalesce(p_metadata, '{}'), p_rescheduled_from,
                CASE WHEN p_expires_at IS NULL THEN 'confirmed' ELSE 'held' END, p_expires_at)
        ON CONFLICT DO NOTHING
        RETURNING * INTO v_appt;
        EXIT WHEN v_appt.id IS NOT NULL OR v_try = 2
               OR bk_remove_expired_holds(p_org_id, p_provider_id,
                                          p_scheduled_at - p_before * interval '1 minute',
                                          p_scheduled_at + (p_duration + p_after)
                                                           * interval '1 minute') = 0;
    END LOOP;
    RETURN v_appt;
END
$$;

-- Turns the caller's hold into the appointment being booked, in place (the
-- same row and id; API.md, "Slot holds"), when the hold is unexpired, the
-- provider's, and its time holds the booked time [p_scheduled_at, +
-- p_duration); with p_covered also only when its buffered range holds the
-- booking's, so that nothing else can be in the way and no lock is needed
-- (bk_convert_hold checks the rest under the bucket locks). Returns the
-- confirmed appointment, or nothing (every field NULL).
CREATE OR REPLACE FUNCTION bk_convert_hold_row(
    p_hold_id uuid, p_org_id uuid, p_provider_id uuid, p_contact_id uuid, p_service_id uuid,
    p_scheduled_at timestamptz, p_duration int, p_before int, p_after int, p_notes text,
    p_metadata jsonb, p_covered boolean)
RETURNS public.appointments
LANGUAGE plpgsql
AS $$
DECLARE
    v_appt appointments;
    v_start timestamptz := p_scheduled_at - p_before * interval '1 minute';
    v_end timestamptz := p_scheduled_at + (p_duration + p_after) * interval '1 minute';
BEGIN
    UPDATE appointments
       SET status = 'confirmed', expires_at = NULL, contact_id = p_contact_id,
           service_id = p_service_id, scheduled_at = p_scheduled_at,
           duration_minutes = p_duration,
           ends_at = p_scheduled_at + p_duration * interval '1 minute',
           buffer_before_minutes = p_before, buffer_after_minutes = p_after,
           buffered_start = v_start, buffered_end = v_end, notes = p_notes,
           metadata = coalesce(p_metadata, '{}'), created_at = now()
     WHERE org_id = p_org_id AND id = p_hold_id AND status = 'held'
       AND expires_at > clock_timestamp() AND provider_id = p_provider_id
       AND scheduled_at <= p_scheduled_at
       AND ends_at >= p_scheduled_at + p_duration * interval '1 minute'
       AND (NOT p_covered OR (buffered_start <= v_start AND buffered_end >= v_end))
    RETURNING * INTO v_appt;
    RETURN v_appt;
END
$$;

-- The conversion bk_convert_hold_row (p_covered) could not make, under the
-- booking's bucket locks. Returns:
--   the confirmed appointment: the booking lies inside the hold's time and
--     its buffers, reaching past the hold's, meet nothing;
--   the hold itself, still held: its buffers reach past it onto a
--     conflict, which the caller reports;
--   nothing (every field NULL): the hold is unknown here (another
--     organization's stays untouched), expired or already consumed, and the
--     caller books as if no hold had been named.
-- BK003 when the hold is for another provider, or the booked time is not
-- inside the hold's time.
CREATE OR REPLACE FUNCTION bk_convert_hold(
    p_hold_id uuid, p_org_id uuid, p_provider_id uuid, p_contact_id uuid, p_service_id uuid,
    p_scheduled_at timestamptz, p_duration int, p_before int, p_after int, p_notes text,
    p_metadata jsonb)
RETURNS public.appointments
LANGUAGE plpgsql
AS $$
DECLARE
    v_hold appointments;
    v_start timestamptz := p_scheduled_at - p_before * interval '1 minute';
    v_end timestamptz := p_scheduled_at + (p_duration + p_after) * interval '1 minute';
BEGIN
    SELECT * INTO v_hold FROM appointments
     WHERE org_id = p_org_id AND id = p_hold_id AND status = 'held' FOR UPDATE;
    IF NOT FOUND OR v_hold.expires_at <= clock_timestamp() THEN
        v_hold := NULL;
        RETURN v_hold;
    END IF;
    IF v_hold.provider_id <> p_provider_id THEN
        RAISE EXCEPTION 'the hold is for another provider' USING ERRCODE = 'BK003';
    END IF;
    IF p_scheduled_at < v_hold.scheduled_at
       OR p_scheduled_at + p_duration * interval '1 minute' > v_hold.ends_at THEN
        RAISE EXCEPTION 'the booked time is outside its hold (% to %)',
            bk_iso(v_hold.scheduled_at), bk_iso(v_hold.ends_at) USING ERRCODE = 'BK003';
    END IF;
    PERFORM bk_remove_expired_holds(p_org_id, p_provider_id, v_start, v_end);
    IF EXISTS (SELECT 1 FROM bk_find_conflict(p_org_id, p_provider_id, v_start, v_end,
                                              p_hold_id, clock_timestamp())) THEN
        RETURN v_hold;
    END IF;
    RETURN bk_convert_hold_row(p_hold_id, p_org_id, p_provider_id, p_contact_id, p_service_id,
                               p_scheduled_at, p_duration, p_before, p_after, p_notes,
                               p_metadata, false);
END
$$;

-- The audit entry of a booked appointment (a booking, or the new half of a
-- reschedule: p_from is then the old one), which is also the event that
-- announces it.
CREATE OR REPLACE FUNCTION bk_record_booked(p_org_id uuid, p_actor text,
                                            p_appt public.appointments, p_from uuid)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM bk_audit(p_org_id, p_actor, 'appointment.booked', 'appointment', p_appt.id,
                     jsonb_build_object('providerId', p_appt.provider_id,
                                        'scheduledAt', bk_iso(p_appt.scheduled_at),
                                        'durationMinutes', p_appt.duration_minutes)
                     || CASE WHEN p_from IS NULL THEN '{}'
                             ELSE jsonb_build_object('rescheduledFrom', p_from) END,
                     CASE WHEN p_from IS NULL THEN 'appointment.booked'
                          ELSE 'appointment.rescheduled' END);
END
$$;

-- Book: returns {"status":"booked","appointment":{...}} or
-- {"status":"conflict","conflictingAppointment"|"conflictingHold":{...}},
-- plus "lockWaitUs", plus "replayed":true when an idempotency key replays
-- a stored result, plus "holdConverted":true when p_hold_id's hold became
-- the appointment (bk_convert_hold).
-- p_public: the caller is the public booking page or the voice agent, who
-- may only book the future and inside the provider's working hours.
--
-- Lock order (docs/design.md): the contact is read first without a lock
-- (for a clear 400), and key-share locked only after the insert, so a
-- loser of a race writes nothing; with an idempotency key it is locked
-- before the key instead. A hold's row is locked after the buckets.
CREATE OR REPLACE FUNCTION book_appointment_with_lock(
    p_org_id uuid, p_provider_id uuid, p_contact_id uuid, p_service_id uuid,
    p_scheduled_at timestamptz, p_duration_minutes int, p_notes text, p_metadata jsonb,
    p_lock_keys bigint[], p_lock_from timestamptz, p_lock_to timestamptz,
    p_lock_timeout_ms int, p_actor text, p_idempotency_key text, p_request_hash bytea,
    p_public boolean DEFAULT false, p_hold_id uuid DEFAULT NULL, p_manage_hash bytea DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_replay jsonb;
    v_provider_ok boolean;
    v_contact_ok boolean;
    v_duration int := p_duration_minutes;
    v_before int := 0;
    v_after int := 0;
    v_start timestamptz;
    v_end timestamptz;
    v_wait_us bigint;
    v_conflict appointments;
    v_appt appointments;
    v_exclude uuid;
    v_converted boolean := false;
    v_result jsonb;
BEGIN
    -- The budget of every lock wait below, the idempotency key's included.
    PERFORM bk_lock_budget(p_lock_timeout_ms);
    SELECT EXISTS (SELECT 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id),
           EXISTS (SELECT 1 FROM contacts
                    WHERE org_id = p_org_id AND id = p_contact_id AND erased_at IS NULL)
      INTO v_provider_ok, v_contact_ok;

    IF p_idempotency_key IS NOT NULL THEN
        v_contact_ok := bk_lock_contact(p_org_id, p_contact_id);
        v_replay := bk_claim_idempotency_key(p_org_id, p_actor, p_idempotency_key,
                                             p_request_hash);
        IF v_replay IS NOT NULL THEN
            RETURN v_replay;
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
        SELECT * INTO v_duration, v_before, v_after
          FROM bk_service_shape(p_org_id, p_service_id, p_duration_minutes);
    END IF;
    IF v_duration IS NULL OR v_duration NOT BETWEEN 1 AND 1440 THEN
        PERFORM bk_require_between(v_duration, 1, 1440, 'durationMinutes');
    END IF;
    IF p_public THEN
        PERFORM bk_check_public_time(p_provider_id, p_scheduled_at, v_duration);
    END IF;

    v_start := p_scheduled_at - v_before * interval '1 minute';
    v_end := p_scheduled_at + (v_duration + v_after) * interval '1 minute';
    -- A conflict inserts nothing, and only then is the conflicting
    -- appointment looked up. A conflict cancelled in between (cancel takes
    -- no bucket locks) sends the booking round again. The caller's own hold
    -- is never the conflict reported.
    --
    -- A hold that covers the booking is converted without bucket locks:
    -- its row, inside the exclusion constraint, already keeps the range,
    -- and the row lock the UPDATE takes is the only one this path takes
    -- (docs/design.md, "Slot holds").
    IF p_hold_id IS NOT NULL THEN
        PERFORM bk_lock_budget(p_lock_timeout_ms); -- what the key's twin left
        v_appt := bk_convert_hold_row(p_hold_id, p_org_id, p_provider_id, p_contact_id,
                                      p_service_id, p_scheduled_at, v_duration, v_before,
                                      v_after, p_notes, p_metadata, true);
        v_converted := v_appt.id IS NOT NULL;
        v_wait_us := 0;
    END IF;
    FOR v_round IN 1..3 LOOP
        EXIT WHEN v_converted;
        v_wait_us := bk_take_bucket_locks(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                          p_lock_timeout_ms, p_org_id, p_provider_id,
                                          p_hold_id);
        IF v_wait_us >= 0 THEN
            IF p_hold_id IS NOT NULL THEN
                v_appt := bk_convert_hold(p_hold_id, p_org_id, p_provider_id, p_contact_id,
                                          p_service_id, p_scheduled_at, v_duration, v_before,
                                          v_after, p_notes, p_metadata);
                v_converted := v_appt.status = 'confirmed';
                IF v_appt.status = 'held' THEN
                    v_exclude := p_hold_id;
                END IF;
            END IF;
            IF v_appt.id IS NULL THEN
                v_appt := bk_insert_appointment(NULL, p_org_id, p_provider_id, p_contact_id,
                                                p_service_id, p_scheduled_at, v_duration,
                                                v_before, v_after, p_notes, p_metadata, NULL);
            END IF;
            EXIT WHEN v_appt.status = 'confirmed';
            v_appt := NULL;
        END IF;
        SELECT * INTO v_conflict
          FROM bk_find_conflict(p_org_id, p_provider_id, v_start, v_end, v_exclude,
                                clock_timestamp());
        EXIT WHEN FOUND;
    END LOOP;

    IF v_appt.id IS NOT NULL THEN
        IF p_idempotency_key IS NULL THEN
            IF NOT bk_lock_contact(p_org_id, p_contact_id) THEN
                RAISE EXCEPTION 'contactId does not exist'
                    USING ERRCODE = 'BK001', COLUMN = 'contactId';
            END IF;
        END IF;
        v_result := jsonb_build_object('status', 'booked', 'appointment',
                                       bk_appointment_json(v_appt));
        PERFORM bk_record_booked(p_org_id, p_actor, v_appt, NULL);
        IF v_converted THEN
            PERFORM bk_audit(p_org_id, p_actor, 'hold.converted', 'hold', p_hold_id,
                             jsonb_build_object('appointmentId', v_appt.id));
        END IF;
        IF p_manage_hash IS NOT NULL THEN
            INSERT INTO manage_tokens (token_hash, org_id, appointment_id, valid_until)
            VALUES (p_manage_hash, p_org_id, v_appt.id, v_appt.scheduled_at);
        END IF;
    ELSE
        v_result := bk_conflict_result(v_conflict);
        v_wait_us := greatest(v_wait_us, 0);
    END IF;
    v_result := bk_finish(p_org_id, p_actor, p_idempotency_key, v_result, v_wait_us);
    IF v_converted THEN
        RETURN v_result || '{"holdConverted": true}';
    END IF;
    RETURN v_result;
END
$$;

-- A patient's own change through a manage link (cancel, reschedule): not
-- later than the organization's cancellationNoticeHours before the start.
-- BK003 (invalid_state) saying so.
CREATE OR REPLACE FUNCTION bk_check_change_notice(p_org_id uuid, p_scheduled_at timestamptz)
RETURNS void
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_hours int;
BEGIN
    SELECT cancellation_notice_hours INTO v_hours FROM organizations WHERE id = p_org_id;
    IF p_scheduled_at < now() + v_hours * interval '1 hour' THEN
        RAISE EXCEPTION 'this appointment can no longer be changed online: changes must be made '
                        'at least % hour(s) before it starts; please call the practice', v_hours
            USING ERRCODE = 'BK003';
    END IF;
END
$$;

-- Cancel: a soft delete that frees the slot at once. Cancelling a cancelled
-- appointment changes nothing ("status":"unchanged"); a rescheduled one is
-- BK003. Takes no bucket locks: freeing a range can never make an overlap.
CREATE OR REPLACE FUNCTION cancel_appointment(p_org_id uuid, p_appointment_id uuid,
                                              p_reason text, p_lock_timeout_ms int,
                                              p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_appt appointments;
BEGIN
    PERFORM bk_lock_budget(p_lock_timeout_ms);
    SELECT * INTO v_appt FROM appointments
     WHERE org_id = p_org_id AND id = p_appointment_id AND status <> 'held' FOR UPDATE;
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
    -- The reason is free text and may hold personal data: not in the audit log.
    PERFORM bk_audit(p_org_id, p_actor, 'appointment.cancelled', 'appointment', v_appt.id,
                     jsonb_build_object('providerId', v_appt.provider_id,
                                        'scheduledAt', bk_iso(v_appt.scheduled_at)),
                     'appointment.cancelled');
    PERFORM bk_appointment_ended(v_appt.id);
    RETURN jsonb_build_object('status', 'cancelled', 'appointment', bk_appointment_json(v_appt));
END
$$;

-- Reschedule: atomic, on the booking's own steps. Locks the buckets of the
-- old and the new range (the caller passes the union, ascending;
-- [p_lock_from, p_lock_to) is the span of the new range's buckets), then
-- the old row; retires it as 'rescheduled' and inserts the new one, whose
-- range may overlap the old; on a conflict puts the old row back, so
-- nothing changes. Returns {"status":"rescheduled","appointment":new,
-- "previousAppointment":old} or {"status":"conflict",...}; "lockWaitUs" and
-- "replayed" as for booking.
--
-- Everything but the status of an appointment is immutable, so what is read
-- first without a lock is what the caller computed the keys from. Lock
-- order (docs/design.md): contact, idempotency key, buckets, then this one
-- appointment row.
CREATE OR REPLACE FUNCTION reschedule_appointment_with_lock(
    p_org_id uuid, p_appointment_id uuid, p_provider_id uuid, p_scheduled_at timestamptz,
    p_duration_minutes int, p_lock_keys bigint[], p_lock_from timestamptz,
    p_lock_to timestamptz, p_lock_timeout_ms int, p_actor text, p_idempotency_key text,
    p_request_hash bytea, p_public boolean DEFAULT false, p_manage_hash bytea DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_replay jsonb;
    v_old appointments;
    v_new appointments;
    v_new_id uuid := bk_uuid7();
    v_provider uuid;
    v_duration int;
    v_start timestamptz;
    v_end timestamptz;
    v_wait_us bigint;
    v_conflict appointments;
    v_result jsonb;
    v_contact_ok boolean;
BEGIN
    PERFORM bk_lock_budget(p_lock_timeout_ms);
    SELECT * INTO v_old FROM appointments
     WHERE org_id = p_org_id AND id = p_appointment_id AND status <> 'held';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'appointment not found' USING ERRCODE = 'BK002';
    END IF;
    v_contact_ok := bk_lock_contact(p_org_id, v_old.contact_id);

    v_replay := bk_claim_idempotency_key(p_org_id, p_actor, p_idempotency_key, p_request_hash);
    IF v_replay IS NOT NULL THEN
        RETURN v_replay;
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
    PERFORM bk_require_between(v_duration, 1, 1440, 'durationMinutes');
    IF p_actor = 'manage_link' THEN
        PERFORM bk_check_change_notice(p_org_id, v_old.scheduled_at);
    END IF;
    IF p_public THEN
        PERFORM bk_check_public_time(v_provider, p_scheduled_at, v_duration);
    END IF;
    v_start := p_scheduled_at - v_old.buffer_before_minutes * interval '1 minute';
    v_end := p_scheduled_at + (v_duration + v_old.buffer_after_minutes) * interval '1 minute';
    IF NOT v_contact_ok THEN
        RAISE EXCEPTION 'the contact of this appointment was erased' USING ERRCODE = 'BK003';
    END IF;

    FOR v_round IN 1..3 LOOP
        v_wait_us := bk_take_bucket_locks(p_lock_keys, p_lock_from, p_lock_to, v_start, v_end,
                                          p_lock_timeout_ms, p_org_id, v_provider,
                                          p_appointment_id);
        -- Without the locks (-1: a committed appointment holds the new
        -- range) the conflict below is reported as it stands.
        IF v_wait_us >= 0 THEN
            SELECT * INTO v_old FROM appointments WHERE id = p_appointment_id FOR UPDATE;
        END IF;
        IF v_old.status <> 'confirmed' THEN
            RAISE EXCEPTION 'only a confirmed appointment can be rescheduled (this one is %)',
                v_old.status USING ERRCODE = 'BK003';
        END IF;
        IF v_wait_us >= 0 THEN
            UPDATE appointments SET status = 'rescheduled', rescheduled_to = v_new_id
             WHERE id = p_appointment_id
            RETURNING * INTO v_old;
            v_new := bk_insert_appointment(v_new_id, p_org_id, v_provider, v_old.contact_id,
                                           v_old.service_id, p_scheduled_at, v_duration,
                                           v_old.buffer_before_minutes,
                                           v_old.buffer_after_minutes, v_old.notes,
                                           v_old.metadata, v_old.id);
            EXIT WHEN v_new.id IS NOT NULL;
            UPDATE appointments SET status = 'confirmed', rescheduled_to = NULL
             WHERE id = p_appointment_id
            RETURNING * INTO v_old;
        END IF;
        SELECT * INTO v_conflict
          FROM bk_find_conflict(p_org_id, v_provider, v_start, v_end, p_appointment_id,
                                clock_timestamp());
        EXIT WHEN FOUND;
    END LOOP;

    IF v_new.id IS NOT NULL THEN
        v_result := jsonb_build_object('status', 'rescheduled',
                                       'appointment', bk_appointment_json(v_new),
                                       'previousAppointment', bk_appointment_json(v_old));
        PERFORM bk_audit(p_org_id, p_actor, 'appointment.rescheduled', 'appointment', v_old.id,
                         jsonb_build_object('newAppointmentId', v_new.id,
                                            'scheduledAt', bk_iso(v_new.scheduled_at),
                                            'previousScheduledAt', bk_iso(v_old.scheduled_at)));
        PERFORM bk_record_booked(p_org_id, p_actor, v_new, v_old.id);
        PERFORM bk_appointment_ended(v_old.id);
        IF p_manage_hash IS NOT NULL THEN
            INSERT INTO manage_tokens (token_hash, org_id, appointment_id, valid_until)
            VALUES (p_manage_hash, p_org_id, v_new.id, v_new.scheduled_at);
        END IF;
    ELSE
        v_result := bk_conflict_result(v_conflict);
        v_wait_us := greatest(v_wait_us, 0);
    END IF;
    RETURN bk_finish(p_org_id, p_actor, p_idempotency_key, v_result, v_wait_us);
END
$$;
