-- What the API's reads return: lists and single rows, each as the API's
-- JSON (or the columns bookd reads), one round trip each. bookd's role may
-- only execute functions (docs/design.md, "Least privilege"), so every read
-- of a table is one of these; each is SECURITY DEFINER with the entry
-- points' search_path, and PL/pgSQL so a connection keeps its plans.

-- A service's duration and buffers: what a booking's lock range depends on
-- (read before locking; a service never changes).
CREATE OR REPLACE FUNCTION service_range(p_org_id uuid, p_service_id uuid)
RETURNS TABLE (duration_minutes int, buffer_before_minutes int, buffer_after_minutes int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT s.duration_minutes::int, s.buffer_before_minutes::int, s.buffer_after_minutes::int
      FROM services s WHERE s.org_id = p_org_id AND s.id = p_service_id;
END
$$;

-- An appointment's provider, buffered range (ms since the epoch), duration
-- and buffers, none of which ever change: what a reschedule locks around.
CREATE OR REPLACE FUNCTION appointment_range(p_org_id uuid, p_id uuid)
RETURNS TABLE (provider_id uuid, start_ms bigint, end_ms bigint, duration_minutes int,
               buffer_before_minutes int, buffer_after_minutes int)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT a.provider_id, (extract(epoch FROM a.buffered_start) * 1000)::bigint,
           (extract(epoch FROM a.buffered_end) * 1000)::bigint, a.duration_minutes::int,
           a.buffer_before_minutes::int, a.buffer_after_minutes::int
      FROM appointments a
     WHERE a.org_id = p_org_id AND a.id = p_id AND a.status <> 'held';
END
$$;

-- One appointment as the API shows it; no row when there is none. Holds are
-- not appointments: never found by id.
CREATE OR REPLACE FUNCTION appointment_get(p_org_id uuid, p_id uuid)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT bk_appointment_json(a)::text FROM appointments a
     WHERE a.org_id = p_org_id AND a.id = p_id AND a.status <> 'held';
END
$$;

-- A page of appointments, keyset-paginated on (scheduled_at, id): p_after_at
-- and p_after_id are the last row seen. Every filter is optional (NULL).
CREATE OR REPLACE FUNCTION appointment_list(p_org_id uuid, p_from timestamptz,
                                            p_to timestamptz, p_provider_id uuid,
                                            p_status text, p_after_at timestamptz,
                                            p_after_id uuid, p_limit int, p_contact_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(bk_appointment_json(a) ORDER BY a.scheduled_at, a.id), '[]')
          FROM (SELECT * FROM appointments x
                 WHERE x.org_id = p_org_id AND x.status <> 'held'
                   AND (p_from IS NULL OR x.scheduled_at >= p_from)
                   AND (p_to IS NULL OR x.scheduled_at < p_to)
                   AND (p_provider_id IS NULL OR x.provider_id = p_provider_id)
                   AND (p_status IS NULL OR x.status = p_status)
                   AND (p_after_at IS NULL OR (x.scheduled_at, x.id) > (p_after_at, p_after_id))
                   AND (p_contact_id IS NULL OR x.contact_id = p_contact_id)
                 ORDER BY x.scheduled_at, x.id LIMIT p_limit) a)::text;
END
$$;

-- The audit log, newest first, optionally of one entity.
CREATE OR REPLACE FUNCTION audit_list(p_org_id uuid, p_entity_id uuid, p_limit int)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(json_build_object('id', x.id, 'at', bk_iso(x.at),
                   'actor', x.actor, 'action', x.action, 'entityType', x.entity_type,
                   'entityId', x.entity_id, 'details', x.details)
                   ORDER BY x.at DESC, x.seq DESC), '[]')
          FROM (SELECT * FROM audit_logs l
                 WHERE l.org_id = p_org_id AND (p_entity_id IS NULL OR l.entity_id = p_entity_id)
                 ORDER BY l.at DESC, l.seq DESC LIMIT p_limit) x)::text;
END
$$;

CREATE OR REPLACE FUNCTION provider_list(p_org_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(json_build_object('id', p.id, 'name', p.name,
                   'workingHours', p.working_hours) ORDER BY p.created_at, p.id), '[]')
          FROM providers p WHERE p.org_id = p_org_id)::text;
END
$$;

CREATE OR REPLACE FUNCTION service_list(p_org_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(json_build_object('id', s.id, 'name', s.name,
                   'durationMinutes', s.duration_minutes,
                   'bufferBeforeMinutes', s.buffer_before_minutes,
                   'bufferAfterMinutes', s.buffer_after_minutes)
                   ORDER BY s.created_at, s.id), '[]')
          FROM services s WHERE s.org_id = p_org_id)::text;
END
$$;

-- A contact as the API shows it; no row when there is none or it was erased.
CREATE OR REPLACE FUNCTION contact_get(p_org_id uuid, p_id uuid)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT json_build_object('id', c.id, 'name', c.name, 'phone', c.phone,
                             'email', c.email)::text
      FROM contacts c
     WHERE c.org_id = p_org_id AND c.id = p_id AND c.erased_at IS NULL;
END
$$;

-- The webhook endpoints, never their secrets.
CREATE OR REPLACE FUNCTION webhook_list(p_org_id uuid)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(json_build_object('id', w.id, 'url', w.url,
                   'events', w.events, 'disabled', w.disabled_at IS NOT NULL)
                   ORDER BY w.created_at, w.id), '[]')
          FROM webhook_endpoints w WHERE w.org_id = p_org_id)::text;
END
$$;

-- Webhook deliveries, newest first, optionally of one status or endpoint.
CREATE OR REPLACE FUNCTION delivery_list(p_org_id uuid, p_status text, p_endpoint_id uuid,
                                         p_limit int)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT coalesce(json_agg(bk_delivery_json(d, ev.event_type)
                   ORDER BY d.created_at DESC, d.id DESC), '[]')
          FROM (SELECT * FROM deliveries x
                 WHERE x.org_id = p_org_id AND (p_status IS NULL OR x.status = p_status)
                   AND x.endpoint_id IS NOT NULL
                   AND (p_endpoint_id IS NULL OR x.endpoint_id = p_endpoint_id)
                 ORDER BY x.created_at DESC, x.id DESC LIMIT p_limit) d
          JOIN audit_logs ev ON ev.id = d.event_id)::text;
END
$$;
