-- Creating the things bookings refer to. Each is one round trip.

-- The working hours a provider gets when none are given: Monday to Friday,
-- 09:00-17:00, in the organization's time zone. The one place they are
-- written down.
CREATE FUNCTION bk_default_working_hours() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT '{"mon":[["09:00","17:00"]],"tue":[["09:00","17:00"]],"wed":[["09:00","17:00"]],
         "thu":[["09:00","17:00"]],"fri":[["09:00","17:00"]]}'::jsonb
$$;

-- An organization with its default provider (Monday-Friday 09:00-17:00 in
-- its time zone) and its admin and public keys, stored as SHA-256 hashes.
-- Returns {"id", "defaultProviderId", "adminKeyId", "publicKeyId"}.
CREATE FUNCTION create_organization(p_name text, p_timezone text, p_vapi_secret_hash bytea,
                                    p_admin_key_hash bytea, p_public_key_hash bytea)
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

REVOKE EXECUTE ON FUNCTION create_organization(text, text, bytea, bytea, bytea) FROM PUBLIC;
