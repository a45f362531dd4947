-- Creating the things bookings refer to: organizations, providers and their
-- working hours, services, contacts. Each is one round trip.

-- An organization with its default provider (Monday-Friday 09:00-17:00 in
-- its time zone) and its admin and public keys, stored as SHA-256 hashes.
-- Returns {"id", "defaultProviderId", "adminKeyId", "publicKeyId"}.
CREATE OR REPLACE FUNCTION create_organization(p_name text, p_timezone text,
                                               p_vapi_secret_hash bytea,
                                               p_admin_key_hash bytea,
                                               p_public_key_hash bytea)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    v_org uuid;
    v_provider uuid;
    v_admin uuid;
    v_public uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = p_timezone) THEN
        RAISE EXCEPTION 'timezone must be an IANA time zone name'
            USING ERRCODE = 'BK001', COLUMN = 'timezone';
    END IF;
    INSERT INTO organizations (name, timezone, vapi_secret_hash)
    VALUES (p_name, p_timezone, p_vapi_secret_hash) RETURNING id INTO v_org;
    INSERT INTO providers (org_id, name, working_hours, is_default)
    VALUES (v_org, 'default', bk_default_working_hours(), true)
    RETURNING id INTO v_provider;
    INSERT INTO api_keys (org_id, kind, key_hash) VALUES (v_org, 'admin', p_admin_key_hash)
    RETURNING id INTO v_admin;
    INSERT INTO api_keys (org_id, kind, key_hash) VALUES (v_org, 'public', p_public_key_hash)
    RETURNING id INTO v_public;
    RETURN jsonb_build_object('id', v_org, 'defaultProviderId', v_provider,
                              'adminKeyId', v_admin, 'publicKeyId', v_public);
END
$$;

-- Who owns a key (kind 'admin', 'public' or 'page') or, with p_vapi, an
-- organization's Vapi secret (kind 'vapi', no key id), by its SHA-256:
-- kind, key id, organization, default provider, time zone. A lookup is an
-- index probe; it may wait for a lock a quarter of a second at most
-- (55P03, answered 503), so lookups stuck behind a lock on the keys (a
-- migration, an operator's transaction) neither hold a pool connection
-- nor a server thread for long.
CREATE OR REPLACE FUNCTION key_owner(p_hash bytea, p_vapi boolean)
RETURNS TABLE (kind text, key_id text, org_id uuid, default_provider_id uuid, timezone text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET lock_timeout = 250
AS $$
BEGIN
    -- PL/pgSQL for its cached plan: as a LANGUAGE sql function (which its
    -- SET clauses keep from being inlined) the query was planned at every
    -- call, 0.45 ms of a Vapi request's 1.5 ms in the database, against
    -- 0.07 ms so (bench/HISTORY.md, step 42).
    RETURN QUERY
    SELECT k.kind, k.id::text, o.id, p.id, o.timezone
      FROM api_keys k
      JOIN organizations o ON o.id = k.org_id
      JOIN providers p ON p.org_id = o.id AND p.is_default
     WHERE NOT p_vapi AND k.key_hash = p_hash AND k.revoked_at IS NULL
    UNION ALL
    SELECT 'vapi', '', o.id, p.id, o.timezone
      FROM organizations o
      JOIN providers p ON p.org_id = o.id AND p.is_default
     WHERE p_vapi AND o.vapi_secret_hash = p_hash;
END
$$;

-- POST /api/orgs/me/vapi-secret: the organization's Vapi secret replaced by
-- the one whose SHA-256 is p_secret_hash; the old one stops at once (Vapi
-- secrets are looked up on every request, never cached).
CREATE OR REPLACE FUNCTION rotate_vapi_secret(p_org_id uuid, p_secret_hash bytea, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    UPDATE organizations SET vapi_secret_hash = p_secret_hash WHERE id = p_org_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'BK002';
    END IF;
    PERFORM bk_audit(p_org_id, p_actor, 'organization.vapi_secret_rotated', 'organization',
                     p_org_id, '{}');
    RETURN '{}';
END
$$;

-- GET and PATCH /api/orgs/me: the organization with its booking policies.
CREATE OR REPLACE FUNCTION bk_org_json(o public.organizations) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
SELECT jsonb_build_object(
    'id', o.id, 'name', o.name, 'timezone', o.timezone,
    'defaultProviderId', (SELECT p.id FROM providers p WHERE p.org_id = o.id AND p.is_default),
    'policies', jsonb_build_object('minimumNoticeMinutes', o.minimum_notice_minutes,
                                   'bookingHorizonDays', o.booking_horizon_days,
                                   'cancellationNoticeHours', o.cancellation_notice_hours))
$$;

CREATE OR REPLACE FUNCTION org_get(p_org_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    RETURN (
        SELECT bk_org_json(o) FROM organizations o WHERE o.id = p_org_id);
END
$$;

-- The organization a page is for (docs/web.md): by id for the booking page,
-- or by a working manage token's SHA-256 for the manage page, with its page
-- key (and for the manage page the appointment's provider, service and
-- length, which the page asks free times for). The key is made on first use from the candidate the C side drew
-- (p_key, and p_hash its SHA-256); two first visits at once keep one (the
-- partial unique index). NULL for an unknown organization or a token that
-- does not work.
CREATE OR REPLACE FUNCTION page_config(p_org_id uuid, p_token_hash bytea, p_key text,
                                       p_hash bytea)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    o organizations;
    a appointments;
    v_key text;
BEGIN
    IF p_token_hash IS NOT NULL THEN
        a := bk_manage_appointment(p_token_hash);
        p_org_id := a.org_id;
    END IF;
    SELECT * INTO o FROM organizations WHERE id = p_org_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT k.page_key INTO v_key FROM api_keys k
     WHERE k.org_id = o.id AND k.kind = 'page' AND k.revoked_at IS NULL;
    IF v_key IS NULL THEN
        INSERT INTO api_keys (org_id, kind, key_hash, page_key)
        VALUES (o.id, 'page', p_hash, p_key)
        ON CONFLICT (org_id) WHERE kind = 'page' AND revoked_at IS NULL DO NOTHING;
        SELECT k.page_key INTO v_key FROM api_keys k
         WHERE k.org_id = o.id AND k.kind = 'page' AND k.revoked_at IS NULL;
    END IF;
    RETURN jsonb_build_object(
        'orgId', o.id, 'name', o.name, 'timezone', o.timezone,
        'defaultProviderId', (SELECT p.id FROM providers p WHERE p.org_id = o.id AND p.is_default),
        'publicKey', v_key)
        || CASE WHEN a.id IS NULL THEN '{}'::jsonb
                ELSE jsonb_build_object('providerId', a.provider_id, 'serviceId', a.service_id,
                                        'durationMinutes', a.duration_minutes) END;
END
$$;

-- A policy of a PATCH: an integer from p_lo to p_hi, or the current value
-- when it is not given. BK001 naming policies.<name> otherwise.
CREATE OR REPLACE FUNCTION bk_policy(p_policies jsonb, p_name text, p_lo int, p_hi int,
                                     p_current int)
RETURNS int
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
    v jsonb := p_policies -> p_name;
BEGIN
    IF v IS NULL THEN
        RETURN p_current;
    END IF;
    IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric)
       OR (v #>> '{}')::numeric NOT BETWEEN p_lo AND p_hi THEN
        RAISE EXCEPTION 'policies.% must be a whole number from % to %', p_name, p_lo, p_hi
            USING ERRCODE = 'BK001', COLUMN = 'policies.' || p_name;
    END IF;
    RETURN (v #>> '{}')::int;
END
$$;

-- PATCH /api/orgs/me: the name and the policies given; the others stay.
-- The C side checks the name and that policies is an object.
CREATE OR REPLACE FUNCTION org_update(p_org_id uuid, p_name text, p_policies jsonb,
                                      p_actor text)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    o organizations;
    v_key text;
BEGIN
    SELECT * INTO o FROM organizations WHERE id = p_org_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'organization not found' USING ERRCODE = 'BK002';
    END IF;
    SELECT k INTO v_key FROM jsonb_object_keys(coalesce(p_policies, '{}')) k
     WHERE k NOT IN ('minimumNoticeMinutes', 'bookingHorizonDays', 'cancellationNoticeHours')
     LIMIT 1;
    IF v_key IS NOT NULL THEN
        RAISE EXCEPTION 'policies.% is not a policy (minimumNoticeMinutes, bookingHorizonDays, '
                        'cancellationNoticeHours)', v_key
            USING ERRCODE = 'BK001', COLUMN = 'policies.' || v_key;
    END IF;
    UPDATE organizations
       SET name = coalesce(p_name, name),
           minimum_notice_minutes = bk_policy(p_policies, 'minimumNoticeMinutes', 0, 43200,
                                              minimum_notice_minutes),
           booking_horizon_days = bk_policy(p_policies, 'bookingHorizonDays', 0, 3650,
                                            booking_horizon_days),
           cancellation_notice_hours = bk_policy(p_policies, 'cancellationNoticeHours', 0, 168,
                                                 cancellation_notice_hours)
     WHERE id = p_org_id
    RETURNING * INTO o;
    PERFORM bk_audit(p_org_id, p_actor, 'organization.updated', 'organization', p_org_id,
                     jsonb_build_object('policies', bk_org_json(o) -> 'policies',
                                        'nameChanged', p_name IS NOT NULL));
    RETURN bk_org_json(o);
END
$$;

-- POST /api/providers. The C side validates the working-hours format; an
-- omitted one (NULL) is Monday-Friday 09:00-17:00, as for the default
-- provider of a new organization.
CREATE OR REPLACE FUNCTION create_provider(p_org_id uuid, p_name text, p_working_hours jsonb,
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
CREATE OR REPLACE FUNCTION set_working_hours(p_org_id uuid, p_provider_id uuid,
                                             p_working_hours jsonb, p_actor text)
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
CREATE OR REPLACE FUNCTION create_service(p_org_id uuid, p_name text, p_duration int,
                                          p_before int, p_after int, p_actor text)
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

-- POST /api/contacts. The C side validates E.164 and the e-mail format.
-- The audit row says only which optional fields were given.
CREATE OR REPLACE FUNCTION create_contact(p_org_id uuid, p_name text, p_phone text,
                                          p_email text, p_actor text)
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
