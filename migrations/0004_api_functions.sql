-- The functions behind the rest of the HTTP API: free slots, working hours,
-- contacts (with the right to erasure), providers and services. Same rules
-- as 0002: one round trip per request, errors raised (never caught) with
-- the project's SQLSTATEs, so a failed call writes nothing:
--   BK001 invalid request, COLUMN names the API field at fault
--   BK002 not found (also: another organization's id, so existence never leaks)
--   BK003 invalid state
-- Audit details never hold personal data (names, phones, emails, notes,
-- metadata, reasons): ids, times, counts and booleans only.

-- JSON objects of the HTTP API --------------------------------------------

CREATE FUNCTION bk_contact_json(c public.contacts) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT jsonb_build_object('id', c.id, 'name', c.name, 'phone', c.phone, 'email', c.email)
$$;

CREATE FUNCTION bk_provider_json(p public.providers) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT jsonb_build_object('id', p.id, 'name', p.name, 'workingHours', p.working_hours)
$$;

CREATE FUNCTION bk_service_json(s public.services) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT jsonb_build_object('id', s.id, 'name', s.name, 'durationMinutes', s.duration_minutes,
                          'bufferBeforeMinutes', s.buffer_before_minutes,
                          'bufferAfterMinutes', s.buffer_after_minutes)
$$;

-- Working hours -------------------------------------------------------------

-- The working_hours key of a date's day of the week ('mon' .. 'sun').
CREATE FUNCTION bk_weekday_key(d date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'])[extract(isodow FROM d)::int] $$;

-- True when the appointment [p_start, p_start + duration) lies inside one
-- working-hours window of its local day, in the wall-clock time of
-- p_timezone. Both ends are taken as the local times of the real instants
-- (so across a DST change the end is where the clock really stands), and
-- both are compared as local timestamps of the start's local date: a window
-- never ends after 23:59, so an appointment crossing midnight is outside.
-- This is the rule free_slots() applies to its grid, so every slot it
-- offers passes this check. NULL arguments give false. No table is read,
-- so definer rights would grant nothing: not SECURITY DEFINER.
CREATE FUNCTION bk_within_working_hours(p_working_hours jsonb, p_timezone text,
                                        p_start timestamptz, p_duration_minutes int)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT EXISTS (
    SELECT 1
      FROM (SELECT p_start AT TIME ZONE p_timezone AS ls,
                   (p_start + make_interval(mins => p_duration_minutes))
                       AT TIME ZONE p_timezone AS le) t,
           jsonb_array_elements(p_working_hours -> bk_weekday_key(t.ls::date)) w
     WHERE p_duration_minutes > 0
       AND t.ls >= t.ls::date + (w ->> 0)::time
       AND t.le <= t.ls::date + (w ->> 1)::time)
$$;

-- Free slots ----------------------------------------------------------------

-- Raises BK001 naming `p_field` unless lo <= value <= hi (NULL is refused,
-- or taken as p_default when one is given). The C side validates first; this
-- keeps a bad value from surfacing as an error the caller cannot map.
CREATE FUNCTION bk_require_between(p_value int, p_lo int, p_hi int, p_field text,
                                   p_default int DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v int := coalesce(p_value, p_default);
BEGIN
    IF v IS NULL OR v NOT BETWEEN p_lo AND p_hi THEN
        RAISE EXCEPTION '% must be an integer from % to %', p_field, p_lo, p_hi
            USING ERRCODE = 'BK001', COLUMN = p_field;
    END IF;
END
$$;

-- Every start on the local date p_date (the organization's time zone) on a
-- wall-clock grid of p_step_minutes from each window's start, where the
-- appointment fits its window (the bk_within_working_hours rule), its
-- buffered range [start - before, start + duration + after) overlaps no
-- confirmed appointment of the provider, and start >= p_now (NULL: no
-- cut-off).
-- Local times in a DST gap do not exist: converted to an instant and back
-- they come out an hour later, which is how they are recognised and
-- skipped (otherwise 01:30 in the gap would repeat 02:30's instant).
-- Ambiguous local times (the hour repeated when clocks go back) are one
-- grid point each and mean the later instant (PostgreSQL's reading).
-- Three statements, whatever the step: the provider and the time zone are
-- read once; the provider's busy ranges around that day come from one scan
-- of the exclusion constraint's GiST index; the grid (generate_series) is
-- then checked against them in memory. Probing the index once per
-- candidate instead was measured 2.5x (step 15) to 6x (step 5) slower with
-- 30 appointments that day (pgbench, prepared).
-- Confirmed buffered ranges never overlap each other, so the array is
-- at most a day's worth of appointments.
CREATE FUNCTION free_slots(p_org_id uuid, p_provider_id uuid, p_date date,
                           p_duration_minutes int, p_buffer_before_minutes int,
                           p_buffer_after_minutes int, p_step_minutes int, p_now timestamptz)
RETURNS TABLE (slot_start timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_tz text;
    v_windows jsonb;
    v_dur interval := make_interval(mins => p_duration_minutes);
    v_before interval := make_interval(mins => coalesce(p_buffer_before_minutes, 0));
    v_after interval := make_interval(mins => coalesce(p_buffer_after_minutes, 0));
    v_now timestamptz := coalesce(p_now, '-infinity');
    v_busy tstzrange[];
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

    SELECT o.timezone, p.working_hours -> bk_weekday_key(p_date)
      INTO v_tz, v_windows
      FROM providers p JOIN organizations o ON o.id = p.org_id
     WHERE p.org_id = p_org_id AND p.id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'providerId does not exist' USING ERRCODE = 'BK001', COLUMN = 'providerId';
    END IF;
    IF v_windows IS NULL THEN
        RETURN;                                     -- closed that day
    END IF;

    -- Every candidate's buffered range lies within the local day widened by
    -- the buffers; 3 hours more cover any DST shift (the largest is 2 h).
    SELECT coalesce(array_agg(tstzrange(a.buffered_start, a.buffered_end, '[)')), '{}')
      INTO v_busy
      FROM appointments a
     WHERE a.provider_id = p_provider_id AND a.org_id = p_org_id AND a.status = 'confirmed'
       AND tstzrange(a.buffered_start, a.buffered_end, '[)')
           && tstzrange((p_date::timestamp AT TIME ZONE v_tz) - v_before - interval '3 hours',
                        ((p_date + 1)::timestamp AT TIME ZONE v_tz) + v_after
                            + interval '3 hours', '[)');

    RETURN QUERY
    SELECT DISTINCT c.s                             -- overlapping windows give one slot
      FROM (SELECT g AT TIME ZONE v_tz AS s, g AS wall, w.we
              FROM (SELECT p_date + (x ->> 0)::time AS ws, p_date + (x ->> 1)::time AS we
                      FROM jsonb_array_elements(v_windows) x) w,
                   generate_series(w.ws, w.we, make_interval(mins => p_step_minutes)) g) c
     WHERE c.s AT TIME ZONE v_tz = c.wall           -- not in a DST gap
       AND (c.s + v_dur) AT TIME ZONE v_tz <= c.we  -- fits the window (wall clock)
       AND c.s >= v_now
       AND NOT (tstzrange(c.s - v_before, c.s + v_dur + v_after, '[)') && ANY (v_busy))
     ORDER BY c.s;
END
$$;

-- Contacts ------------------------------------------------------------------

-- POST /api/contacts. The C side validates E.164 and the e-mail format.
-- The audit row says only which optional fields were given.
CREATE FUNCTION create_contact(p_org_id uuid, p_name text, p_phone text, p_email text,
                               p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_contact contacts;
BEGIN
    -- name is nullable in the table only because erasure clears it.
    IF p_name IS NULL OR btrim(p_name) = '' THEN
        RAISE EXCEPTION 'name is required' USING ERRCODE = 'BK001', COLUMN = 'name';
    END IF;
    INSERT INTO contacts (org_id, name, phone, email)
    VALUES (p_org_id, p_name, p_phone, p_email)
    RETURNING * INTO v_contact;
    PERFORM bk_audit(p_org_id, p_actor, 'contact.created', 'contact', v_contact.id,
                     jsonb_build_object('hasPhone', p_phone IS NOT NULL,
                                        'hasEmail', p_email IS NOT NULL));
    RETURN bk_contact_json(v_contact);
END
$$;

-- An event or idempotency payload with the personal data of the appointment
-- objects it carries ("appointment", "previousAppointment") erased the way
-- the API erases them: notes null, metadata {}.
CREATE FUNCTION bk_scrub_appointment_payload(p jsonb) RETURNS jsonb
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
-- The contact row is locked FOR UPDATE first, before any appointment row:
-- the lock order of every writer is contact, then appointment rows.
-- - Two erasures serialise: the second re-reads the row after the wait,
--   finds it erased: BK002.
-- - A transaction inserting an appointment of the contact holds FOR KEY
--   SHARE on the row (its foreign key check), so erasure waits for it and
--   the statements below, each with a fresh snapshot, see that appointment.
--   To stop a booking that has not inserted yet, the booking must check the
--   contact under FOR KEY SHARE (re-read after the wait), not a plain
--   EXISTS before this lock.
-- - Reschedule must lock the contact (FOR KEY SHARE) before its appointment
--   row; locking the row first and the contact only through the foreign key
--   of the insert closes a cycle with this function (a deadlock, 40P01).
CREATE FUNCTION erase_contact(p_org_id uuid, p_contact_id uuid, p_actor text)
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
    END LOOP;

    -- All the others (past, cancelled, rescheduled) keep status and times.
    UPDATE appointments SET notes = NULL, metadata = '{}', cancel_reason = NULL
     WHERE org_id = p_org_id AND contact_id = p_contact_id
       AND (notes IS NOT NULL OR metadata <> '{}' OR cancel_reason IS NOT NULL);

    -- Copies of the appointment objects already written to the outbox
    -- (delivered or not). No index serves this; erasure is rare.
    UPDATE outbox_events SET payload = bk_scrub_appointment_payload(payload)
     WHERE org_id = p_org_id
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
    RETURN jsonb_build_object('cancelledAppointments', v_cancelled);
END
$$;

-- Providers and services ----------------------------------------------------

-- POST /api/providers. The C side validates the working-hours format; an
-- omitted one (NULL) is Monday-Friday 09:00-17:00, as for the default
-- provider of a new organization.
CREATE FUNCTION create_provider(p_org_id uuid, p_name text, p_working_hours jsonb,
                                p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_provider providers;
BEGIN
    IF p_name IS NULL OR length(p_name) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'name must be 1 to 200 characters' USING ERRCODE = 'BK001', COLUMN = 'name';
    END IF;
    IF p_working_hours IS NOT NULL AND jsonb_typeof(p_working_hours) <> 'object' THEN
        RAISE EXCEPTION 'workingHours must be an object'
            USING ERRCODE = 'BK001', COLUMN = 'workingHours';
    END IF;
    INSERT INTO providers (org_id, name, working_hours)
    VALUES (p_org_id, p_name, coalesce(p_working_hours, bk_default_working_hours()))
    RETURNING * INTO v_provider;
    PERFORM bk_audit(p_org_id, p_actor, 'provider.created', 'provider', v_provider.id, '{}');
    RETURN bk_provider_json(v_provider);
END
$$;

-- PUT /api/providers/{id}/working-hours: replaces the working hours.
-- Existing appointments are untouched (working hours only limit what the
-- public may book from now on).
CREATE FUNCTION set_working_hours(p_org_id uuid, p_provider_id uuid, p_working_hours jsonb,
                                  p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_provider providers;
BEGIN
    IF p_working_hours IS NULL OR jsonb_typeof(p_working_hours) <> 'object' THEN
        RAISE EXCEPTION 'workingHours must be an object'
            USING ERRCODE = 'BK001', COLUMN = 'workingHours';
    END IF;
    UPDATE providers SET working_hours = p_working_hours
     WHERE org_id = p_org_id AND id = p_provider_id
    RETURNING * INTO v_provider;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'provider not found' USING ERRCODE = 'BK002';
    END IF;
    PERFORM bk_audit(p_org_id, p_actor, 'provider.updated', 'provider', v_provider.id,
                     '{"changed": ["workingHours"]}');
    RETURN bk_provider_json(v_provider);
END
$$;

-- POST /api/services. Buffers default to 0. Ranges are checked here with
-- the API's field names, so a bad value is a 400 naming the field and not
-- a CHECK violation.
CREATE FUNCTION create_service(p_org_id uuid, p_name text, p_duration int, p_before int,
                               p_after int, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_service services;
BEGIN
    IF p_name IS NULL OR length(p_name) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'name must be 1 to 200 characters' USING ERRCODE = 'BK001', COLUMN = 'name';
    END IF;
    PERFORM bk_require_between(p_duration, 1, 1440, 'durationMinutes');
    PERFORM bk_require_between(p_before, 0, 240, 'bufferBeforeMinutes', 0);
    PERFORM bk_require_between(p_after, 0, 240, 'bufferAfterMinutes', 0);
    INSERT INTO services (org_id, name, duration_minutes, buffer_before_minutes,
                          buffer_after_minutes)
    VALUES (p_org_id, p_name, p_duration, coalesce(p_before, 0), coalesce(p_after, 0))
    RETURNING * INTO v_service;
    PERFORM bk_audit(p_org_id, p_actor, 'service.created', 'service', v_service.id,
                     jsonb_build_object('durationMinutes', v_service.duration_minutes,
                                        'bufferBeforeMinutes', v_service.buffer_before_minutes,
                                        'bufferAfterMinutes', v_service.buffer_after_minutes));
    RETURN bk_service_json(v_service);
END
$$;

-- Only the service's own role may call what reads or writes the tables;
-- nothing is granted to PUBLIC (as in 0002). The pure helpers stay public.
REVOKE EXECUTE ON FUNCTION
    free_slots(uuid, uuid, date, int, int, int, int, timestamptz),
    create_contact(uuid, text, text, text, text),
    erase_contact(uuid, uuid, text),
    create_provider(uuid, text, jsonb, text),
    set_working_hours(uuid, uuid, jsonb, text),
    create_service(uuid, text, int, int, int, text)
FROM PUBLIC;
