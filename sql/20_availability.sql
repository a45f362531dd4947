-- What is free: the check of one range and the free slots of a day. Both
-- advisory (a later booking can still get 409) and take no locks.

-- Check: {"available":true} or {"available":false,"conflictingAppointment":{...}}
-- ("conflictingHold" for an unexpired hold).
CREATE OR REPLACE FUNCTION check_availability(p_org_id uuid, p_provider_id uuid,
                                              p_scheduled_at timestamptz,
                                              p_duration_minutes int,
                                              p_buffer_before_minutes int,
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
    PERFORM bk_require_between(p_duration_minutes, 1, 1440, 'durationMinutes');
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
        p_scheduled_at - coalesce(p_buffer_before_minutes, 0) * interval '1 minute',
        p_scheduled_at + (p_duration_minutes + coalesce(p_buffer_after_minutes, 0))
                         * interval '1 minute',
        p_exclude_id, clock_timestamp());
    IF FOUND THEN
        RETURN jsonb_build_object('available', false) || bk_conflict_member(v_conflict);
    END IF;
    RETURN '{"available": true}';
END
$$;

-- Every start on the local date p_date (the organization's time zone) on a
-- wall-clock grid of p_step_minutes from each window's start, where the
-- appointment fits its window (the bk_within_working_hours rule), its
-- buffered range [start - before, start + duration + after) overlaps no
-- confirmed appointment, unexpired hold or busy time of the provider, and
-- start >= p_now (NULL: no cut-off). With p_public (the public key, the
-- voice agent) the organization's policies cut it too: no start sooner than
-- its minimum notice after p_now, none past its horizon.
--
-- Each wall-clock time of the grid is turned into the instants that show
-- it: local time minus the zone's offset, for the offset in force at either
-- end of the day. On most days both give the same instant. When clocks go
-- back, a repeated time (01:30 in London in October) shows under both
-- offsets, so it is offered at both instants (API.md); when they go
-- forward, a time in the gap shows under neither and is skipped. A day with
-- two changes of offset (none in the tz database today) would miss the
-- middle one.
--
-- Three statements, whatever the step: the provider and the time zone are
-- read once; the provider's busy ranges around that day come from one scan
-- of the exclusion constraint's GiST index; the grid (generate_series) is
-- then checked against them in memory. Probing the index once per
-- candidate instead was measured 2.5x (step 15) to 6x (step 5) slower with
-- 30 appointments that day (pgbench, prepared). Active buffered ranges
-- (confirmed and held) never overlap each other, so the array is at most a
-- day's worth of appointments.
--
-- One generic plan per statement and connection (plan_cache_mode): planned
-- on every call a request costs 2.5 times the machine's CPU
-- (bench/HISTORY.md, step 28), and the generic plan reads the busy ranges
-- from the GiST index whatever the values.
CREATE OR REPLACE FUNCTION free_slots(p_org_id uuid, p_provider_id uuid, p_date date,
                                      p_duration_minutes int, p_buffer_before_minutes int,
                                      p_buffer_after_minutes int, p_step_minutes int,
                                      p_now timestamptz, p_public boolean DEFAULT false,
                                      p_exclude_id uuid DEFAULT NULL)
RETURNS TABLE (slot_start timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_tz text;
    v_windows jsonb;
    v_dur interval := make_interval(mins => p_duration_minutes);
    v_before interval := make_interval(mins => coalesce(p_buffer_before_minutes, 0));
    v_after interval := make_interval(mins => coalesce(p_buffer_after_minutes, 0));
    v_now timestamptz := coalesce(p_now, '-infinity');
    v_from timestamptz;
    v_to timestamptz;
    v_busy tstzrange[];
    v_notice int;
    v_horizon int;
    v_until timestamptz := 'infinity';
BEGIN
    -- The C side validates these; checked again because a NULL or a zero step
    -- would make generate_series fail with an error the caller cannot map.
    IF p_date IS NULL THEN
        RAISE EXCEPTION 'date is required' USING ERRCODE = 'BK001', COLUMN = 'date';
    END IF;
    PERFORM bk_require_between(p_duration_minutes, 1, 1440, 'durationMinutes');
    PERFORM bk_require_between(p_step_minutes, 5, 240, 'stepMinutes');
    PERFORM bk_require_between(p_buffer_before_minutes, 0, 240, 'bufferBeforeMinutes', 0);
    PERFORM bk_require_between(p_buffer_after_minutes, 0, 240, 'bufferAfterMinutes', 0);

    SELECT o.timezone, p.working_hours -> bk_weekday_key(p_date), o.minimum_notice_minutes,
           o.booking_horizon_days
      INTO v_tz, v_windows, v_notice, v_horizon
      FROM providers p JOIN organizations o ON o.id = p.org_id
     WHERE p.org_id = p_org_id AND p.id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    -- The public rules: the organization's policies cut the grid too.
    IF p_public AND p_now IS NOT NULL THEN
        v_now := p_now + v_notice * interval '1 minute';
        IF v_horizon > 0 THEN
            v_until := p_now + v_horizon * interval '1 day';
        END IF;
    END IF;
    IF v_windows IS NULL THEN
        RETURN;                                     -- closed that day
    END IF;

    -- Every candidate lies within the local day; 3 hours more on each side
    -- cover any DST shift (the largest is 2 h).
    v_from := (p_date::timestamp AT TIME ZONE v_tz) - interval '3 hours';
    v_to := ((p_date + 1)::timestamp AT TIME ZONE v_tz) + interval '3 hours';
    SELECT coalesce(array_agg(tstzrange(a.buffered_start, a.buffered_end, '[)')), '{}')
      INTO v_busy
      FROM appointments a
     WHERE a.provider_id = p_provider_id AND a.org_id = p_org_id
       AND a.status IN ('confirmed', 'held') AND (a.expires_at IS NULL OR a.expires_at > now())
       AND a.id IS DISTINCT FROM p_exclude_id
       AND tstzrange(a.buffered_start, a.buffered_end, '[)')
           && tstzrange(v_from - v_before, v_to + v_after, '[)');
    -- Busy times imported from the provider's calendar (usually none).
    SELECT v_busy || coalesce(array_agg(b.during), '{}') INTO v_busy
      FROM busy_times b
     WHERE b.provider_id = p_provider_id
       AND b.during && tstzrange(v_from - v_before, v_to + v_after, '[)');

    RETURN QUERY
    SELECT DISTINCT c.s                     -- overlapping windows, equal offsets: one slot
      FROM (SELECT (g - o.off) AT TIME ZONE 'UTC' AS s, g AS wall, w.we
              FROM (SELECT p_date + (x ->> 0)::time AS ws, p_date + (x ->> 1)::time AS we
                      FROM jsonb_array_elements(v_windows) x) w,
                   generate_series(w.ws, w.we, make_interval(mins => p_step_minutes)) g,
                   (VALUES ((v_from AT TIME ZONE v_tz) - (v_from AT TIME ZONE 'UTC')),
                           ((v_to AT TIME ZONE v_tz) - (v_to AT TIME ZONE 'UTC'))) o (off)) c
     WHERE c.s AT TIME ZONE v_tz = c.wall   -- the instant really shows that time
       AND (c.s + v_dur) AT TIME ZONE v_tz <= c.we  -- fits the window (wall clock)
       AND c.s >= v_now AND c.s <= v_until
       AND NOT (tstzrange(c.s - v_before, c.s + v_dur + v_after, '[)') && ANY (v_busy))
     ORDER BY c.s;
END
$$;

-- GET /api/availability/days (docs/web.md): for each local date from
-- p_from to p_to, how many start times free_slots offers that day, so the
-- booking page's month calendar can grey out the days with none. One round
-- trip for a month; the C side caps the range (62 days).
CREATE OR REPLACE FUNCTION free_slot_days(p_org_id uuid, p_provider_id uuid, p_from date,
                                          p_to date, p_duration_minutes int,
                                          p_buffer_before_minutes int,
                                          p_buffer_after_minutes int, p_step_minutes int,
                                          p_now timestamptz, p_public boolean,
                                          p_exclude_id uuid DEFAULT NULL)
RETURNS TABLE (day date, slot_count int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT d::date,
           (SELECT count(*)::int
              FROM free_slots(p_org_id, p_provider_id, d::date, p_duration_minutes,
                              p_buffer_before_minutes, p_buffer_after_minutes, p_step_minutes,
                              p_now, p_public, p_exclude_id))
      FROM generate_series(p_from::timestamp, p_to::timestamp, interval '1 day') d
     ORDER BY 1;
END
$$;
