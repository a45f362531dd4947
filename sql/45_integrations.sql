-- Integrations (API.md, "Integrations"; docs/design.md, "Integrations"):
-- settings, linked calendars and their busy times, what a delivery to
-- Google, Twilio or Vapi needs to know, and the texts sent. The C side
-- seals and opens the secrets (core/secretbox); nothing here sees them in
-- the clear.

-- Settings ----------------------------------------------------------------------

-- One kind's object of GET /api/integrations.
CREATE OR REPLACE FUNCTION bk_integration_json(i public.integrations) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
SELECT CASE WHEN i.org_id IS NULL
            THEN '{"connected": false, "lastError": null, "lastSuccessAt": null}'::jsonb
            ELSE jsonb_build_object('connected', true) || i.settings
                 || jsonb_build_object('lastError', i.last_error,
                                       'lastSuccessAt', bk_iso(i.last_success_at)) END
$$;

-- GET /api/integrations.
CREATE OR REPLACE FUNCTION integrations_get(p_org_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT jsonb_object_agg(k.kind, bk_integration_json(i))
          FROM (VALUES ('google'), ('twilio'), ('vapi')) k (kind)
          LEFT JOIN integrations i ON i.org_id = p_org_id AND i.kind = k.kind);
END
$$;

-- PUT /api/integrations/{kind}: the C side has checked the fields and
-- sealed the secret ones. New settings clear an error and a stop, forget
-- Google's access token, and make the kind's waiting deliveries due now
-- (a reminder keeps its time).
CREATE OR REPLACE FUNCTION integration_put(p_org_id uuid, p_kind text, p_settings jsonb,
                                           p_secret bytea, p_key_id text, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    INSERT INTO integrations (org_id, kind, settings, secret, secret_key_id)
    VALUES (p_org_id, p_kind, p_settings, p_secret, p_key_id)
    ON CONFLICT (org_id, kind) DO UPDATE
       SET settings = EXCLUDED.settings, secret = EXCLUDED.secret,
           secret_key_id = EXCLUDED.secret_key_id, token = NULL, token_key_id = NULL,
           token_expires_at = NULL, last_error = NULL, last_error_at = NULL,
           stopped_at = NULL, updated_at = now();
    UPDATE deliveries SET next_attempt_at = now()
     WHERE org_id = p_org_id AND target = p_kind AND status IN ('pending', 'failed')
       AND action NOT IN ('sms.reminder', 'call.reminder') AND next_attempt_at > now();
    UPDATE provider_calendars SET sync_due_at = now() WHERE org_id = p_org_id AND p_kind = 'google';
    PERFORM bk_audit(p_org_id, p_actor, 'integration.updated', 'organization', p_org_id,
                     jsonb_build_object('kind', p_kind));
    PERFORM pg_notify('bookd_outbox', '');
    RETURN jsonb_build_object('connected', true) || p_settings;
END
$$;

-- DELETE /api/integrations/{kind}: its waiting deliveries are dead (there
-- is nothing to send them with); disconnecting Google unlinks every
-- provider, so its busy times no longer count.
CREATE OR REPLACE FUNCTION integration_delete(p_org_id uuid, p_kind text, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    -- Lock order as the worker's outcomes: breaker, integration, deliveries.
    DELETE FROM breakers WHERE org_id = p_org_id AND target = p_kind;
    DELETE FROM integrations WHERE org_id = p_org_id AND kind = p_kind;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not connected', p_kind USING ERRCODE = 'BK002';
    END IF;
    UPDATE deliveries SET status = 'dead', locked_until = NULL,
                          last_error = 'the integration was disconnected'
     WHERE org_id = p_org_id AND target = p_kind AND status IN ('pending', 'failed');
    IF p_kind = 'google' THEN
        DELETE FROM provider_calendars WHERE org_id = p_org_id;
    END IF;
    PERFORM bk_audit(p_org_id, p_actor, 'integration.deleted', 'organization', p_org_id,
                     jsonb_build_object('kind', p_kind));
    RETURN '{}';
END
$$;

-- PUT /api/providers/{id}/calendar. Another calendar than before forgets
-- the old one's busy times; either way an import is due now.
CREATE OR REPLACE FUNCTION calendar_link(p_org_id uuid, p_provider_id uuid, p_calendar_id text,
                                         p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'provider not found' USING ERRCODE = 'BK002';
    END IF;
    PERFORM 1 FROM integrations WHERE org_id = p_org_id AND kind = 'google';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'connect Google Calendar first (PUT /api/integrations/google)'
            USING ERRCODE = 'BK003';
    END IF;
    DELETE FROM busy_times b USING provider_calendars c
     WHERE c.provider_id = p_provider_id AND b.provider_id = c.provider_id
       AND c.calendar_id <> p_calendar_id;
    INSERT INTO provider_calendars (provider_id, org_id, calendar_id)
    VALUES (p_provider_id, p_org_id, p_calendar_id)
    ON CONFLICT (provider_id) DO UPDATE
       SET calendar_id = EXCLUDED.calendar_id, sync_due_at = now(), last_error = NULL;
    PERFORM bk_audit(p_org_id, p_actor, 'provider.calendar_linked', 'provider', p_provider_id,
                     '{}');
    PERFORM pg_notify('bookd_outbox', '');
    RETURN jsonb_build_object('providerId', p_provider_id, 'calendarId', p_calendar_id);
END
$$;

-- DELETE /api/providers/{id}/calendar: the link and its busy times go.
CREATE OR REPLACE FUNCTION calendar_unlink(p_org_id uuid, p_provider_id uuid, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    DELETE FROM provider_calendars WHERE org_id = p_org_id AND provider_id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the provider has no linked calendar' USING ERRCODE = 'BK002';
    END IF;
    PERFORM bk_audit(p_org_id, p_actor, 'provider.calendar_unlinked', 'provider',
                     p_provider_id, '{}');
    RETURN '{}';
END
$$;

-- POST /api/providers/{id}/calendar/sync: an import is due now.
CREATE OR REPLACE FUNCTION calendar_sync_request(p_org_id uuid, p_provider_id uuid)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM providers WHERE org_id = p_org_id AND id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'provider not found' USING ERRCODE = 'BK002';
    END IF;
    UPDATE provider_calendars SET sync_due_at = now() WHERE provider_id = p_provider_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the provider has no linked calendar (PUT /api/providers/{id}/calendar)'
            USING ERRCODE = 'BK003';
    END IF;
    PERFORM pg_notify('bookd_outbox', '');
    RETURN jsonb_build_object('providerId', p_provider_id, 'status', 'queued');
END
$$;

-- Busy times --------------------------------------------------------------------


-- The worker's import: calendars due for it, leased for p_lease_ms, with
-- what the requests need (the sealed secret and access token).
CREATE OR REPLACE FUNCTION calendar_sync_claim(p_limit int, p_lease_ms int)
RETURNS TABLE (provider_id uuid, org_id uuid, calendar_id text, settings jsonb,
               secret bytea, token bytea, token_expires_ms bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH due AS MATERIALIZED (
        SELECT c.provider_id FROM provider_calendars c
          JOIN integrations i ON i.org_id = c.org_id AND i.kind = 'google' AND i.stopped_at IS NULL
         WHERE c.sync_due_at <= now() AND (c.locked_until IS NULL OR c.locked_until <= now())
         ORDER BY c.sync_due_at LIMIT p_limit FOR UPDATE OF c SKIP LOCKED)
    UPDATE provider_calendars c SET locked_until = now() + p_lease_ms * interval '1 millisecond',
                                    claimed_at = now()
      FROM due, integrations i
     WHERE c.provider_id = due.provider_id AND i.org_id = c.org_id AND i.kind = 'google'
    RETURNING c.provider_id, c.org_id, c.calendar_id, i.settings, i.secret, i.token,
              (extract(epoch FROM i.token_expires_at) * 1000)::bigint;
END
$$;

-- An event time as Google gives it, NULL when it is neither an RFC 3339
-- time nor a date.
CREATE OR REPLACE FUNCTION bk_google_time(p_text text, p_tz text) RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    IF p_text ~ '^\d{4}-\d{2}-\d{2}$' THEN
        RETURN p_text::date::timestamp AT TIME ZONE p_tz;
    END IF;
    IF p_text ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$' THEN
        RETURN p_text::timestamptz;
    END IF;
    RETURN NULL;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

-- The outcome of an import. Imported (p_error NULL): the provider's busy
-- times become exactly the given ranges (as Google gives them: an RFC 3339
-- time, or a date for an all-day event, taken in the organization's zone;
-- anything else is skipped). Failed: the last ones stand and
-- the error shows on the link and on GET /api/integrations. Either way
-- the next import is due in p_next_s seconds.
CREATE OR REPLACE FUNCTION calendar_sync_store(p_provider_id uuid, p_error text,
                                               p_starts text[], p_ends text[],
                                               p_ids text[], p_next_s int)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_org uuid;
    v_tz text;
    v_count int;
BEGIN
    SELECT c.org_id, o.timezone INTO v_org, v_tz
      FROM provider_calendars c JOIN organizations o ON o.id = c.org_id
     WHERE c.provider_id = p_provider_id
       FOR UPDATE OF c;
    IF NOT FOUND THEN
        RETURN;                              -- unlinked meanwhile
    END IF;
    IF p_error IS NULL THEN
        DELETE FROM busy_times WHERE provider_id = p_provider_id;
        INSERT INTO busy_times (provider_id, during, external_id)
        SELECT p_provider_id, tstzrange(t.s, t.e, '[)'), left(t.id, 1024)
          FROM (SELECT bk_google_time(u.s, v_tz) AS s, bk_google_time(u.e, v_tz) AS e, u.id
                  FROM unnest(p_starts, p_ends, p_ids) u (s, e, id)) t
         WHERE t.s < t.e;
        GET DIAGNOSTICS v_count = ROW_COUNT;
    END IF;
    UPDATE provider_calendars
       SET sync_due_at = CASE WHEN sync_due_at > claimed_at THEN sync_due_at
                              ELSE now() + p_next_s * interval '1 second' END,
           locked_until = NULL,
           synced_at = CASE WHEN p_error IS NULL THEN now() ELSE synced_at END,
           last_error = left(p_error, 300),
           busy_count = coalesce(v_count, busy_count)
     WHERE provider_id = p_provider_id;
    PERFORM bk_integration_status(v_org, 'google', p_error IS NULL, p_error, false);
END
$$;

-- Delivering to integrations ----------------------------------------------------

-- Records how an integration last did: a success, or an error (with
-- p_stop: the service refused the credentials, and the kind's deliveries
-- wait until the settings are put again).
CREATE OR REPLACE FUNCTION bk_integration_status(p_org_id uuid, p_kind text, p_ok boolean,
                                                 p_error text, p_stop boolean)
RETURNS void
LANGUAGE sql
AS $$
UPDATE integrations
   SET last_success_at = CASE WHEN p_ok THEN now() ELSE last_success_at END,
       last_error = CASE WHEN p_ok THEN NULL ELSE left(p_error, 300) END,
       last_error_at = CASE WHEN p_ok THEN last_error_at ELSE now() END,
       stopped_at = CASE WHEN p_stop THEN now() ELSE stopped_at END
 WHERE org_id = p_org_id AND kind = p_kind
$$;

-- Google's access token, sealed, until it expires.
CREATE OR REPLACE FUNCTION integration_token_store(p_org_id uuid, p_token bytea,
                                                   p_key_id text, p_expires_ms bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    UPDATE integrations SET token = p_token, token_key_id = p_key_id,
                            token_expires_at = to_timestamp(p_expires_ms / 1000.0)
     WHERE org_id = p_org_id AND kind = 'google';
END
$$;

-- The time of an appointment as a text message says it, in the
-- organization's zone: "Tue 27 Jan at 2:00 pm".
CREATE OR REPLACE FUNCTION bk_text_time(p_ts timestamptz, p_tz text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT to_char(p_ts AT TIME ZONE p_tz, 'Dy FMDD Mon') || ' at ' || vapi_say_clock(p_ts, p_tz)
$$;

-- The text of an SMS: the first name, the practice and the time, nothing
-- else, short enough for one segment with names of usual length.
CREATE OR REPLACE FUNCTION bk_sms_text(p_action text, p_name text, p_org text, p_when text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT 'Hi ' || left(split_part(btrim(p_name), ' ', 1), 30) || ', '
       || CASE p_action
            WHEN 'sms.booked' THEN 'your appointment at ' || left(p_org, 60)
                                   || ' is confirmed for ' || p_when || '.'
            WHEN 'sms.rescheduled' THEN 'your appointment at ' || left(p_org, 60)
                                        || ' has moved to ' || p_when || '.'
            WHEN 'sms.cancelled' THEN 'your appointment at ' || left(p_org, 60) || ' on '
                                      || p_when || ' is cancelled.'
            ELSE 'a reminder of your appointment at ' || left(p_org, 60) || ' on '
                 || p_when || '.' END
$$;

-- What the worker needs to send a delivery to an integration, read when
-- it is claimed (so an erasure or a cancel since the event counts):
-- {"skip"} with why, when there is nothing to send (a reminder of an
-- appointment no longer confirmed or already begun; a contact without a
-- phone; a provider without a calendar; an insert for an appointment
-- cancelled meanwhile), else what the action needs.
CREATE OR REPLACE FUNCTION bk_delivery_context(d public.deliveries) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    a appointments;
    v_org organizations;
    v_name text;
    v_phone text;
    v_calendar text;
BEGIN
    SELECT * INTO a FROM appointments WHERE id = d.appointment_id;
    IF NOT FOUND THEN
        RETURN '{"skip": "the appointment is gone"}';
    END IF;
    SELECT * INTO v_org FROM organizations WHERE id = a.org_id;
    SELECT c.name, c.phone INTO v_name, v_phone
      FROM contacts c WHERE c.id = a.contact_id AND c.erased_at IS NULL;
    IF d.action IN ('sms.reminder', 'call.reminder')
       AND (a.status <> 'confirmed' OR a.scheduled_at <= now()) THEN
        RETURN '{"skip": "the appointment is no longer ahead and confirmed"}';
    END IF;
    -- An event inserted after the appointment was cancelled or moved would
    -- stay in the calendar (its delete may have been done already). Text
    -- messages tell each change as it happened, so all are sent.
    IF d.action = 'google.insert' AND a.status <> 'confirmed' THEN
        RETURN '{"skip": "the appointment is no longer confirmed"}';
    END IF;
    IF d.target = 'google' THEN
        SELECT calendar_id INTO v_calendar FROM provider_calendars
         WHERE provider_id = a.provider_id;
        IF v_calendar IS NULL THEN
            RETURN '{"skip": "the provider has no linked calendar"}';
        END IF;
        RETURN jsonb_build_object(
            'calendarId', v_calendar, 'eventId', 'bk' || replace(a.id::text, '-', ''),
            'summary', coalesce(v_name, 'Appointment'),
            'description', 'Booked with bookd (appointment ' || a.id || ').',
            'start', bk_iso(a.scheduled_at), 'end', bk_iso(a.ends_at));
    END IF;
    IF v_phone IS NULL THEN
        RETURN '{"skip": "the contact has no phone number"}';
    END IF;
    IF d.target = 'vapi' THEN
        RETURN jsonb_build_object('phone', v_phone, 'appointmentId', a.id,
                                  'scheduledAt', bk_iso(a.scheduled_at),
                                  'localTime', vapi_say_time(a.scheduled_at, v_org.timezone));
    END IF;
    RETURN jsonb_build_object('phone', v_phone,
                              'text', bk_sms_text(d.action, v_name, v_org.name,
                                                  bk_text_time(a.scheduled_at, v_org.timezone)))
           -- A patient's own booking (the booking page, the voice agent, a
           -- manage link): its notice carries a manage link, minted by the
           -- worker when it sends (API.md, "Self-service links").
           || CASE WHEN d.action IN ('sms.booked', 'sms.rescheduled') AND EXISTS (
                       SELECT 1 FROM audit_logs l
                        WHERE l.org_id = a.org_id AND l.entity_id = a.id
                          AND l.action = 'appointment.booked'
                          AND (l.actor LIKE 'public_key:%' OR l.actor IN ('vapi', 'manage_link')))
                   THEN jsonb_build_object('manageLink', true, 'orgId', a.org_id,
                                           'appointmentId', a.id)
                   ELSE '{}' END;
END
$$;

-- An appointment cancelled, moved or erased, in the transaction of that
-- change: its reminders are void, and its manage tokens (which work only
-- while it is confirmed) are deleted rather than left to the purge.
CREATE OR REPLACE FUNCTION bk_appointment_ended(p_appointment_id uuid) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE deliveries SET status = 'void', locked_until = NULL, delivered_at = now(),
                          last_error = 'the appointment was cancelled or moved'
     WHERE appointment_id = p_appointment_id AND status IN ('pending', 'failed')
       AND action IN ('sms.reminder', 'call.reminder');
    DELETE FROM manage_tokens WHERE appointment_id = p_appointment_id;
END
$$;

-- How many sealed secrets are stored (webhook secrets, integration secrets
-- and access tokens) and how many of them another key sealed: a server
-- refuses to start when it could not open them (src/db/secrets.c).
CREATE OR REPLACE FUNCTION secrets_census(p_key_id text)
RETURNS TABLE (stored bigint, other bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT sum(c.n)::bigint, sum(c.o)::bigint FROM (
        SELECT count(*) n, count(*) FILTER (WHERE w.secret_key_id <> p_key_id) o
          FROM webhook_endpoints w
        UNION ALL
        SELECT count(*), count(*) FILTER (WHERE i.secret_key_id <> p_key_id) FROM integrations i
        UNION ALL
        SELECT count(i.token), count(*) FILTER (WHERE i.token_key_id <> p_key_id)
          FROM integrations i) c;
END
$$;
