-- The voice agent (API.md, "Vapi"; src/api/vapi.c): what a tool call needs
-- from the database besides the booking functions, and the words its
-- answers are made of. Times are said in the organization's time zone, in
-- English, the way a voice reads them: "Tuesday 27 January at 2:00 pm".

-- "Tuesday 27 January" of a day (vapi_say_clock, the time of day, is in
-- sql/01_common.sql: text messages say it too).
CREATE OR REPLACE FUNCTION vapi_say_day(p_day date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT to_char(p_day, 'FMDay FMDD FMMonth') $$;

-- "Tuesday 27 January at 2:00 pm".
CREATE OR REPLACE FUNCTION vapi_say_time(p_ts timestamptz, p_tz text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT vapi_say_day((p_ts AT TIME ZONE p_tz)::date) || ' at ' || vapi_say_clock(p_ts, p_tz)
$$;

-- When a provider works, as a sentence's end: "Monday to Friday from 9:00
-- am to 5:00 pm", days with the same windows grouped when they follow one
-- another ("Monday from 9:00 am to 12:00 pm and 1:00 pm to 5:00 pm;
-- Wednesday from ...").
CREATE OR REPLACE FUNCTION vapi_say_hours(p_hours jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v_keys text[] := ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
    v_names text[] := ARRAY['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday',
                            'Saturday', 'Sunday'];
    v_parts text[] := '{}';
    v_day int := 1;
    v_last int;
    v_windows jsonb;
    v_said text;
BEGIN
    WHILE v_day <= 7 LOOP
        v_windows := coalesce(p_hours -> v_keys[v_day], '[]');
        v_last := v_day;
        WHILE v_last < 7 AND coalesce(p_hours -> v_keys[v_last + 1], '[]') = v_windows LOOP
            v_last := v_last + 1;
        END LOOP;
        IF jsonb_array_length(v_windows) > 0 THEN
            SELECT string_agg(to_char((w ->> 0)::time, 'FMHH12:MI am') || ' to '
                              || to_char((w ->> 1)::time, 'FMHH12:MI am'), ' and ' ORDER BY n)
              INTO v_said
              FROM jsonb_array_elements(v_windows) WITH ORDINALITY AS t (w, n);
            v_parts := v_parts || (CASE v_last - v_day
                                        WHEN 0 THEN v_names[v_day]
                                        WHEN 1 THEN v_names[v_day] || ' and ' || v_names[v_last]
                                        ELSE v_names[v_day] || ' to ' || v_names[v_last] END
                                   || ' from ' || v_said);
        END IF;
        v_day := v_last + 1;
    END LOOP;
    IF cardinality(v_parts) = 0 THEN
        RETURN 'on no day at the moment';
    END IF;
    RETURN array_to_string(v_parts, '; ');
END
$$;

-- The times to offer a caller: {"day": "Tuesday 27 January", "requestedFree":
-- bool, "requestedClock": "2:00 pm" (null without p_at), "reason": null |
-- "past" | "soon" | "far" | "closed" (sooner than the booking policies'
-- notice, beyond their horizon), "hours": vapi_say_hours(...), "notice":
-- "2 hours", "horizonDays": n, "offers": [{"at": ISO, "clock": "2:00 pm"},
-- ...]}. With p_at: that time alone when it is free, else up to p_limit
-- free times of its day nearest it; with p_date alone: the day's first
-- p_limit free times. Free means what free_slots offers the public (the
-- future, inside working hours and the policies, clear of appointments,
-- unexpired holds and busy times), on a 15-minute grid.
CREATE OR REPLACE FUNCTION vapi_offer(p_org_id uuid, p_provider_id uuid, p_duration int,
                                      p_before int, p_after int, p_at timestamptz,
                                      p_date date, p_limit int)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_tz text;
    v_hours jsonb;
    v_day date;
    v_free boolean := false;
    v_reason text;
    v_offers jsonb;
    v_notice int;
    v_horizon int;
BEGIN
    SELECT o.timezone, p.working_hours, o.minimum_notice_minutes, o.booking_horizon_days
      INTO v_tz, v_hours, v_notice, v_horizon
      FROM organizations o JOIN providers p ON p.org_id = o.id
     WHERE o.id = p_org_id AND p.id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    v_day := coalesce(p_date, (p_at AT TIME ZONE v_tz)::date);
    IF p_at IS NOT NULL AND p_at < now() OR v_day < (now() AT TIME ZONE v_tz)::date THEN
        v_reason := 'past';
    ELSIF p_at IS NOT NULL AND p_at < now() + v_notice * interval '1 minute' THEN
        v_reason := 'soon';
    ELSIF p_at IS NOT NULL AND v_horizon > 0 AND p_at > now() + v_horizon * interval '1 day' THEN
        v_reason := 'far';
    ELSIF p_at IS NOT NULL AND NOT bk_within_working_hours(v_hours, v_tz, p_at, p_duration) THEN
        v_reason := 'closed';
    END IF;

    WITH free AS (
        SELECT s.slot_start FROM free_slots(p_org_id, p_provider_id, v_day, p_duration,
                                            p_before, p_after, 15, now(), true) s)
    SELECT EXISTS (SELECT 1 FROM free WHERE slot_start = p_at),
           coalesce((SELECT jsonb_agg(jsonb_build_object('at', bk_iso(c.slot_start),
                                                         'clock', vapi_say_clock(c.slot_start, v_tz))
                                      ORDER BY c.slot_start)
                       FROM (SELECT f.slot_start FROM free f
                              ORDER BY CASE WHEN p_at IS NULL THEN 0
                                            ELSE abs(extract(epoch FROM f.slot_start - p_at)) END,
                                       f.slot_start
                              LIMIT p_limit) c), '[]')
      INTO v_free, v_offers;
    IF v_free THEN
        v_offers := jsonb_build_array(jsonb_build_object('at', bk_iso(p_at),
                                                         'clock', vapi_say_clock(p_at, v_tz)));
    END IF;
    RETURN jsonb_build_object('day', vapi_say_day(v_day), 'requestedFree', v_free,
                              'requestedClock', vapi_say_clock(p_at, v_tz),
                              'reason', v_reason, 'hours', vapi_say_hours(v_hours),
                              'notice', bk_say_minutes(v_notice), 'horizonDays', v_horizon,
                              'offers', v_offers);
END
$$;

-- bookAppointment's contact: the organization's first contact with this
-- phone, or a new one (create_contact: audited, validated there). A helper
-- of vapi_book, run under its rights and search_path: a SET clause here
-- would cost a save and restore on the voice agent's hot path.
CREATE OR REPLACE FUNCTION vapi_contact(p_org_id uuid, p_name text, p_phone text, p_email text,
                                        p_actor text)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    v_id uuid;
BEGIN
    SELECT id INTO v_id FROM contacts
     WHERE org_id = p_org_id AND phone = p_phone AND erased_at IS NULL
     ORDER BY created_at, id LIMIT 1;
    IF FOUND THEN
        RETURN v_id;
    END IF;
    RETURN (create_contact(p_org_id, p_name, p_phone, p_email, p_actor) ->> 'id')::uuid;
END
$$;

-- cancelAppointment and rescheduleAppointment without an id: the confirmed
-- appointments at p_at of contacts with this phone (none, one, or several).
CREATE OR REPLACE FUNCTION vapi_find_appointments(p_org_id uuid, p_phone text, p_at timestamptz)
RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}')
          FROM appointments a JOIN contacts c ON c.org_id = a.org_id AND c.id = a.contact_id
         WHERE a.org_id = p_org_id AND a.status = 'confirmed' AND a.scheduled_at = p_at
           AND c.phone = p_phone AND c.erased_at IS NULL);
END
$$;

-- bookAppointment in one round trip, the voice agent's hot path (API.md,
-- "Vapi"): the caller's contact (found by phone or made), the call's hold
-- when it is for this time (converted), the booking by the public rules
-- (book_appointment_with_lock, whose errors roll everything back), and the
-- answer stored with the call and the appointment in the same transaction,
-- its times said in p_timezone (the organization's: the caller read it with
-- the Vapi secret).
-- The stored answer is the tool call's idempotency key, and the only place
-- a retry is recognised: a retry of a call that booked finds its time taken
-- (by its own appointment), one that booked meanwhile anyway (the time
-- freed again) cannot store its answer; either way BK004 rolls it back and
-- the caller reads the answer stored. So is a concurrent twin. Not looking
-- for the answer first spares every first try a lookup, and a retry, rare,
-- costs a booking attempt instead (bench/HISTORY.md, step 32).
-- The Vapi secret is checked here when p_secret_hash is given (bookd
-- takes a cached secret's owner on trust until this says so), before
-- anything else, so a secret rotated away books nothing (BK007), and a
-- booking by phone costs no lookup of its own (bench/HISTORY.md, step 52).
-- Returns {"answer", "isError", ...} once answered. Raises, leaving nothing
-- behind: BK007 for a secret that is not the organization's; 23P01 when
-- the time is taken (the caller answers with what is free instead); BK003
-- when the call holds a time other than this one, or this time for less
-- than is booked (the caller releases that hold, which could be in this
-- booking's way, and calls again); BK004 when the call
-- was answered before (read the answer); the booking's own BK001 for the
-- public rules.
CREATE OR REPLACE FUNCTION vapi_book(
    p_org_id uuid, p_call_id text, p_tool_call_id text, p_name text, p_phone text,
    p_email text, p_notes text, p_provider_id uuid, p_service_id uuid,
    p_scheduled_at timestamptz, p_duration int, p_lock_keys bigint[], p_lock_from timestamptz,
    p_lock_to timestamptz, p_lock_timeout_ms int, p_timezone text, p_secret_hash bytea)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_contact uuid;
    v_hold vapi_call_holds;
    v_result jsonb;
    v_text text;
BEGIN
    PERFORM bk_lock_budget(p_lock_timeout_ms);
    IF p_secret_hash IS NOT NULL THEN
        -- Key-share locked (as the audit entry's foreign key would be
        -- later): a rotation that comes after this check waits for the
        -- booking to end, and one that came first makes it wait, then find
        -- the secret gone. Once a rotation has returned, nothing commits
        -- with the old secret.
        PERFORM FROM organizations WHERE id = p_org_id AND vapi_secret_hash = p_secret_hash
            FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the Vapi secret is not the organization''s' USING ERRCODE = 'BK007';
        END IF;
    END IF;
    v_contact := vapi_contact(p_org_id, p_name, p_phone, p_email, 'vapi');
    IF p_call_id IS NOT NULL THEN
        SELECT * INTO v_hold FROM vapi_call_holds
         WHERE org_id = p_org_id AND call_id = p_call_id;
        IF FOUND AND v_hold.scheduled_at <> p_scheduled_at THEN
            RAISE EXCEPTION 'the call holds another time' USING ERRCODE = 'BK003';
        END IF;
    END IF;
    v_result := book_appointment_with_lock(
        p_org_id, p_provider_id, v_contact, p_service_id, p_scheduled_at, p_duration, p_notes,
        NULL, p_lock_keys, p_lock_from, p_lock_to, p_lock_timeout_ms, 'vapi', NULL, NULL, true,
        v_hold.hold_id);
    -- Not booked: nothing stays, not even a contact made for it. A twin
    -- that answered meanwhile is read by the caller (BK004); else the
    -- slot is taken (23P01, as the exclusion constraint says it), and the
    -- caller answers with what is free.
    IF v_result ->> 'status' <> 'booked' THEN
        IF vapi_answer(p_org_id, p_tool_call_id) IS NOT NULL THEN
            RAISE EXCEPTION 'this tool call was answered meanwhile' USING ERRCODE = 'BK004';
        END IF;
        RAISE EXCEPTION 'the time is taken' USING ERRCODE = '23P01';
    END IF;
    v_text := 'Booked for ' || vapi_say_time((v_result -> 'appointment' ->> 'scheduledAt')
                                             ::timestamptz, p_timezone) || '.';
    INSERT INTO vapi_tool_results (org_id, tool_call_id, is_error, answer, call_id,
                                   appointment_id)
    VALUES (p_org_id, p_tool_call_id, false, v_text, p_call_id,
            (v_result -> 'appointment' ->> 'id')::uuid)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this tool call was answered meanwhile' USING ERRCODE = 'BK004';
    END IF;
    IF v_hold.hold_id IS NOT NULL THEN
        DELETE FROM vapi_call_holds WHERE org_id = p_org_id AND call_id = p_call_id;
    END IF;
    RETURN jsonb_build_object('answer', v_text, 'isError', false,
                              'expiredHolds', v_result -> 'expiredHolds',
                              'holdConverted', v_result -> 'holdConverted');
END
$$;

-- The answer stored for a tool call, as vapi_book returns a retry's, or
-- NULL.
CREATE OR REPLACE FUNCTION vapi_answer(p_org_id uuid, p_tool_call_id text)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
SELECT jsonb_build_object('answer', answer, 'isError', is_error, 'replayed', true)
  FROM vapi_tool_results WHERE org_id = p_org_id AND tool_call_id = p_tool_call_id
$$;

-- A status-update or end-of-call-report: the call's row, made or updated.
-- A start time once known is kept; the end time, reason and status are the
-- latest told, except that an ended call stays ended.
CREATE OR REPLACE FUNCTION vapi_record_call(p_org_id uuid, p_call_id text, p_status text,
                                            p_started_at timestamptz, p_ended_at timestamptz,
                                            p_ended_reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    INSERT INTO vapi_calls AS c (org_id, call_id, status, started_at, ended_at, ended_reason)
    VALUES (p_org_id, p_call_id, p_status, p_started_at, p_ended_at, p_ended_reason)
    ON CONFLICT (org_id, call_id) DO UPDATE
       SET status = CASE WHEN c.status = 'ended' THEN c.status ELSE EXCLUDED.status END,
           started_at = coalesce(c.started_at, EXCLUDED.started_at),
           ended_at = coalesce(EXCLUDED.ended_at, c.ended_at),
           ended_reason = coalesce(EXCLUDED.ended_reason, c.ended_reason),
           updated_at = now();
END
$$;

-- GET /api/calls: the latest p_limit calls, most recently updated first,
-- each with the appointments booked during it.
CREATE OR REPLACE FUNCTION vapi_call_list(p_org_id uuid, p_limit int)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'id', c.call_id, 'status', c.status, 'startedAt', bk_iso(c.started_at),
                   'endedAt', bk_iso(c.ended_at), 'endedReason', c.ended_reason,
                   'appointmentIds', coalesce((SELECT jsonb_agg(r.appointment_id ORDER BY r.created_at)
                                                 FROM vapi_tool_results r
                                                WHERE r.org_id = c.org_id AND r.call_id = c.call_id
                                                  AND r.appointment_id IS NOT NULL), '[]'))
                   ORDER BY c.updated_at DESC, c.call_id), '[]')
          FROM (SELECT * FROM vapi_calls WHERE org_id = p_org_id
                 ORDER BY updated_at DESC, call_id LIMIT p_limit) c);
END
$$;

-- Housekeeping: call holds older than a day (a call does not last that
-- long), calls and answers older than BOOKD_DELIVERY_RETENTION_DAYS
-- (p_retention_days). Returns how many.
CREATE OR REPLACE FUNCTION vapi_purge(p_retention_days int, p_batch int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = '5s'
SET enable_seqscan = off
AS $$
DECLARE
    v_results int;
    v_holds int;
    v_calls int;
BEGIN
    DELETE FROM vapi_tool_results
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM vapi_tool_results
                              WHERE created_at < now() - p_retention_days * interval '1 day'
                              LIMIT p_batch));
    GET DIAGNOSTICS v_results = ROW_COUNT;
    DELETE FROM vapi_call_holds
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM vapi_call_holds
                              WHERE created_at < now() - interval '24 hours' LIMIT p_batch));
    GET DIAGNOSTICS v_holds = ROW_COUNT;
    DELETE FROM vapi_calls
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM vapi_calls
                              WHERE updated_at < now() - p_retention_days * interval '1 day'
                              LIMIT p_batch));
    GET DIAGNOSTICS v_calls = ROW_COUNT;
    RETURN v_results + v_holds + v_calls;
END
$$;

-- "<time> on <day>" in the organization's time zone.
CREATE OR REPLACE FUNCTION vapi_org_say_time(p_org_id uuid, p_at timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT vapi_say_time(p_at, o.timezone) FROM organizations o WHERE o.id = p_org_id;
END
$$;

-- The service a caller named (case-insensitive), the first by id if names
-- repeat; no row when none.
CREATE OR REPLACE FUNCTION vapi_service_id(p_org_id uuid, p_name text)
RETURNS SETOF uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT s.id FROM services s WHERE s.org_id = p_org_id AND lower(s.name) = lower(p_name)
     ORDER BY s.id LIMIT 1;
END
$$;

-- The hold a call keeps (its id and time in ms since the epoch); no row when none.
CREATE OR REPLACE FUNCTION vapi_hold_get(p_org_id uuid, p_call_id text)
RETURNS TABLE (hold_id uuid, at_ms bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT h.hold_id, (extract(epoch FROM h.scheduled_at) * 1000)::bigint
      FROM vapi_call_holds h WHERE h.org_id = p_org_id AND h.call_id = p_call_id;
END
$$;

-- Records the call's hold; returns the hold it replaced, if any (NULL otherwise).
CREATE OR REPLACE FUNCTION vapi_hold_set(p_org_id uuid, p_call_id text, p_hold_id uuid,
                                         p_at timestamptz)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_old uuid;
BEGIN
    SELECT h.hold_id INTO v_old FROM vapi_call_holds h
     WHERE h.org_id = p_org_id AND h.call_id = p_call_id FOR UPDATE;
    INSERT INTO vapi_call_holds AS h (org_id, call_id, hold_id, scheduled_at)
    VALUES (p_org_id, p_call_id, p_hold_id, p_at)
        ON CONFLICT (org_id, call_id)
        DO UPDATE SET hold_id = EXCLUDED.hold_id, scheduled_at = EXCLUDED.scheduled_at,
                      created_at = now();
    RETURN v_old;
END
$$;

CREATE OR REPLACE FUNCTION vapi_hold_forget(p_org_id uuid, p_call_id text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    DELETE FROM vapi_call_holds h WHERE h.org_id = p_org_id AND h.call_id = p_call_id;
END
$$;

-- The answer stored for a tool call; no row when none.
CREATE OR REPLACE FUNCTION vapi_answer_get(p_org_id uuid, p_tool_call_id text)
RETURNS TABLE (is_error boolean, answer text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT r.is_error, r.answer FROM vapi_tool_results r
     WHERE r.org_id = p_org_id AND r.tool_call_id = p_tool_call_id;
END
$$;

-- Stores a tool call's answer; returns it when stored, no row when an
-- answer was already there (the caller then reads and repeats that one).
CREATE OR REPLACE FUNCTION vapi_answer_put(p_org_id uuid, p_tool_call_id text,
                                           p_is_error boolean, p_answer text)
RETURNS TABLE (is_error boolean, answer text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    INSERT INTO vapi_tool_results AS r (org_id, tool_call_id, is_error, answer)
    VALUES (p_org_id, p_tool_call_id, p_is_error, p_answer) ON CONFLICT DO NOTHING
    RETURNING r.is_error, r.answer;
END
$$;
