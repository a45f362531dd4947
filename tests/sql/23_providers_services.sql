-- create_provider(), set_working_hours() and create_service(). Run:
-- psql -X -q -t -A -v ON_ERROR_STOP=1 "$DATABASE_URL" -f THIS_FILE
-- on a migrated database. Everything is rolled back.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(36);

-- org1 23000000-…-001 (UTC), org2 -002 (UTC) with provider 23aaaaaa-…-002.
INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('23000000-0000-4000-8000-000000000001', 'Providers Clinic', 'UTC', '\x2301'),
    ('23000000-0000-4000-8000-000000000002', 'Other Clinic', 'UTC', '\x2302');
INSERT INTO providers (id, org_id, name, working_hours) VALUES
    ('23aaaaaa-0000-4000-8000-000000000002', '23000000-0000-4000-8000-000000000002',
     'Elsewhere', '{"mon":[["09:00","17:00"]]}');

CREATE TEMP TABLE res (k text PRIMARY KEY, v jsonb NOT NULL);
CREATE FUNCTION pg_temp.r(p_k text) RETURNS jsonb LANGUAGE sql AS $$ SELECT v FROM res WHERE k = p_k $$;
CREATE FUNCTION pg_temp.id(p_k text) RETURNS uuid LANGUAGE sql AS $$ SELECT (v ->> 'id')::uuid FROM res WHERE k = p_k $$;
CREATE FUNCTION pg_temp.err(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_state text;
    v_col text;
BEGIN
    EXECUTE p_sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_col = COLUMN_NAME;
    RETURN v_state || coalesce(' ' || nullif(v_col, ''), '');
END
$$;
CREATE FUNCTION pg_temp.totals() RETURNS text LANGUAGE sql AS $$
SELECT format('providers=%s services=%s audit=%s hours=%s',
              (SELECT count(*) FROM providers), (SELECT count(*) FROM services),
              (SELECT count(*) FROM audit_logs),
              (SELECT md5(string_agg(working_hours::text, ',' ORDER BY id)) FROM providers))
$$;
CREATE TEMP TABLE snap (k text PRIMARY KEY, v text);

-- create_provider ---------------------------------------------------------------
INSERT INTO res VALUES
    ('split', create_provider('23000000-0000-4000-8000-000000000001', 'Dr Split',
                              '{"tue":[["09:00","12:00"],["13:00","17:00"]]}', 'admin_key:pgtap')),
    ('plain', create_provider('23000000-0000-4000-8000-000000000001', 'Dr Plain', NULL,
                              'admin_key:pgtap'));
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('split')) ORDER BY 1),
          ARRAY['id', 'name', 'workingHours'], 'create_provider: exactly id, name, workingHours');
SELECT is(pg_temp.r('split') - 'id',
          '{"name":"Dr Split","workingHours":{"tue":[["09:00","12:00"],["13:00","17:00"]]}}'::jsonb,
          'create_provider: the name and working hours given');
SELECT is(pg_temp.r('plain') -> 'workingHours',
          '{"mon":[["09:00","17:00"]],"tue":[["09:00","17:00"]],"wed":[["09:00","17:00"]],
            "thu":[["09:00","17:00"]],"fri":[["09:00","17:00"]]}'::jsonb,
          'create_provider: omitted working hours are Monday-Friday 09:00-17:00');
SELECT results_eq($$SELECT org_id, name, working_hours, is_default FROM providers WHERE id = pg_temp.id('split')$$,
                  $$VALUES ('23000000-0000-4000-8000-000000000001'::uuid, 'Dr Split',
                            '{"tue":[["09:00","12:00"],["13:00","17:00"]]}'::jsonb, false)$$,
                  'create_provider: stored in the caller''s organization, not the default');
SELECT results_eq($$SELECT actor, action, entity_type::text, details FROM audit_logs
                    WHERE entity_id = pg_temp.id('split')$$,
                  $$VALUES ('admin_key:pgtap', 'provider.created', 'provider', '{}'::jsonb)$$,
                  'create_provider: audited');
SELECT is(ARRAY(SELECT bk_iso(slot_start) FROM free_slots('23000000-0000-4000-8000-000000000001',
                    pg_temp.id('split'), '2026-06-02', 180, 0, 0, 60, '2000-01-01Z')),
          ARRAY['2026-06-02T09:00:00.000Z', '2026-06-02T13:00:00.000Z', '2026-06-02T14:00:00.000Z'],
          'create_provider: free_slots uses the new provider''s hours');

INSERT INTO snap VALUES ('before bad provider', pg_temp.totals());
SELECT is(pg_temp.err($$SELECT create_provider('23000000-0000-4000-8000-000000000001', NULL, NULL, 'x')$$),
          'BK001 name', 'create_provider: no name is BK001 name');
SELECT is(pg_temp.err($$SELECT create_provider('23000000-0000-4000-8000-000000000001', '', NULL, 'x')$$),
          'BK001 name', 'create_provider: an empty name is BK001 name');
SELECT is(pg_temp.err($$SELECT create_provider('23000000-0000-4000-8000-000000000001', repeat('x', 201), NULL, 'x')$$),
          'BK001 name', 'create_provider: a name over 200 characters is BK001 name');
SELECT is(pg_temp.err($$SELECT create_provider('23000000-0000-4000-8000-000000000001', 'X', '[]', 'x')$$),
          'BK001 workingHours', 'create_provider: working hours that are not an object: BK001 workingHours');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before bad provider'),
          'create_provider: a refused provider writes nothing');

-- set_working_hours --------------------------------------------------------------
INSERT INTO res VALUES ('set', set_working_hours('23000000-0000-4000-8000-000000000001', pg_temp.id('plain'),
                                                  '{"sat":[["10:00","14:00"]]}', 'admin_key:setter'));
SELECT is(pg_temp.r('set'),
          jsonb_build_object('id', pg_temp.id('plain'), 'name', 'Dr Plain',
                             'workingHours', '{"sat":[["10:00","14:00"]]}'::jsonb),
          'set_working_hours: returns the provider with the new hours');
SELECT is((SELECT working_hours FROM providers WHERE id = pg_temp.id('plain')),
          '{"sat":[["10:00","14:00"]]}'::jsonb, 'set_working_hours: replaces (does not merge) the hours');
SELECT results_eq($$SELECT actor, entity_type::text, details FROM audit_logs
                    WHERE entity_id = pg_temp.id('plain') AND action = 'provider.updated'$$,
                  $$VALUES ('admin_key:setter', 'provider', '{"changed": ["workingHours"]}'::jsonb)$$,
                  'set_working_hours: audited as provider.updated');
SELECT is(ARRAY(SELECT bk_iso(slot_start) FROM free_slots('23000000-0000-4000-8000-000000000001',
                    pg_temp.id('plain'), '2026-06-06', 120, 0, 0, 60, '2000-01-01Z')),
          ARRAY['2026-06-06T10:00:00.000Z', '2026-06-06T11:00:00.000Z', '2026-06-06T12:00:00.000Z'],
          'set_working_hours: free_slots follows the new hours (Saturday)');
SELECT is(ARRAY(SELECT slot_start FROM free_slots('23000000-0000-4000-8000-000000000001',
                    pg_temp.id('plain'), '2026-06-01', 120, 0, 0, 60, '2000-01-01Z')),
          '{}', 'set_working_hours: ... and Monday is closed now');
SELECT is(set_working_hours('23000000-0000-4000-8000-000000000001', pg_temp.id('plain'), '{}', 'x')
              -> 'workingHours', '{}'::jsonb, 'set_working_hours: {} closes every day');

INSERT INTO snap VALUES ('before bad hours', pg_temp.totals());
SELECT is(pg_temp.err($$SELECT set_working_hours('23000000-0000-4000-8000-000000000001',
                          '23aaaaaa-0000-4000-8000-000000000002', '{}', 'x')$$),
          'BK002', 'set_working_hours: another organization''s provider is BK002');
SELECT is(pg_temp.err($$SELECT set_working_hours('23000000-0000-4000-8000-000000000001',
                          '23eeeeee-0000-4000-8000-000000000000', '{}', 'x')$$),
          'BK002', 'set_working_hours: an unknown provider is BK002');
SELECT is(pg_temp.err(format($$SELECT set_working_hours('23000000-0000-4000-8000-000000000001', %L, NULL, 'x')$$,
                             pg_temp.id('split'))),
          'BK001 workingHours', 'set_working_hours: NULL hours are BK001 workingHours');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before bad hours'),
          'set_working_hours: a refused change writes nothing (the other org''s provider is unchanged)');

-- create_service -------------------------------------------------------------------
INSERT INTO res VALUES
    ('clean', create_service('23000000-0000-4000-8000-000000000001', 'Cleaning', 30, 5, 10, 'admin_key:pgtap')),
    ('quick', create_service('23000000-0000-4000-8000-000000000001', 'Quick', 1, NULL, NULL, 'admin_key:pgtap'));
SELECT is(ARRAY(SELECT jsonb_object_keys(pg_temp.r('clean')) ORDER BY 1),
          ARRAY['bufferAfterMinutes', 'bufferBeforeMinutes', 'durationMinutes', 'id', 'name'],
          'create_service: exactly the API''s fields');
SELECT is(pg_temp.r('clean') - 'id',
          '{"name":"Cleaning","durationMinutes":30,"bufferBeforeMinutes":5,"bufferAfterMinutes":10}'::jsonb,
          'create_service: the values given');
SELECT is(pg_temp.r('quick') - 'id',
          '{"name":"Quick","durationMinutes":1,"bufferBeforeMinutes":0,"bufferAfterMinutes":0}'::jsonb,
          'create_service: buffers default to 0');
SELECT results_eq($$SELECT org_id, duration_minutes, buffer_before_minutes, buffer_after_minutes
                      FROM services WHERE id = pg_temp.id('clean')$$,
                  $$VALUES ('23000000-0000-4000-8000-000000000001'::uuid, 30, 5, 10)$$,
                  'create_service: stored in the caller''s organization');
SELECT results_eq($$SELECT actor, action, entity_type::text, details FROM audit_logs
                    WHERE entity_id = pg_temp.id('clean')$$,
                  $$VALUES ('admin_key:pgtap', 'service.created', 'service',
                            '{"durationMinutes": 30, "bufferBeforeMinutes": 5, "bufferAfterMinutes": 10}'::jsonb)$$,
                  'create_service: audited');
SELECT is(create_service('23000000-0000-4000-8000-000000000001', 'Long', 1440, 240, 240, 'x') - 'id',
          '{"name":"Long","durationMinutes":1440,"bufferBeforeMinutes":240,"bufferAfterMinutes":240}'::jsonb,
          'create_service: the limits themselves are allowed');

INSERT INTO snap VALUES ('before bad service', pg_temp.totals());
SELECT is(ARRAY[
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', 0, 0, 0, 'x')$$),
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', 1441, 0, 0, 'x')$$),
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', NULL, 0, 0, 'x')$$)],
          ARRAY['BK001 durationMinutes', 'BK001 durationMinutes', 'BK001 durationMinutes'],
          'create_service: duration 0, 1441 or missing is BK001 durationMinutes');
SELECT is(ARRAY[
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', 30, 241, 0, 'x')$$),
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', 30, -1, 0, 'x')$$)],
          ARRAY['BK001 bufferBeforeMinutes', 'BK001 bufferBeforeMinutes'],
          'create_service: buffer before outside 0-240 is BK001 bufferBeforeMinutes');
SELECT is(ARRAY[
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', 30, 0, 241, 'x')$$),
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', 'S', 30, 0, -1, 'x')$$)],
          ARRAY['BK001 bufferAfterMinutes', 'BK001 bufferAfterMinutes'],
          'create_service: buffer after outside 0-240 is BK001 bufferAfterMinutes');
SELECT is(ARRAY[
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', NULL, 30, 0, 0, 'x')$$),
            pg_temp.err($$SELECT create_service('23000000-0000-4000-8000-000000000001', '', 30, 0, 0, 'x')$$)],
          ARRAY['BK001 name', 'BK001 name'], 'create_service: no name is BK001 name');
SELECT is(pg_temp.totals(), (SELECT v FROM snap WHERE k = 'before bad service'),
          'create_service: a refused service writes nothing');

-- The functions of sql/ the service calls ----------------------------------------
SELECT is(ARRAY(SELECT proname::text FROM pg_proc
                 WHERE pronamespace = 'public'::regnamespace AND prosecdef
                   AND proname IN ('free_slots', 'create_contact', 'erase_contact', 'create_provider',
                                   'set_working_hours', 'create_service') ORDER BY 1),
          ARRAY['create_contact', 'create_provider', 'create_service', 'erase_contact',
                'free_slots', 'set_working_hours'],
          'the API functions are SECURITY DEFINER');
SELECT is_empty($$
    SELECT proname FROM pg_proc
     WHERE pronamespace = 'public'::regnamespace
       AND proname IN ('free_slots', 'create_contact', 'erase_contact', 'create_provider',
                       'set_working_hours', 'create_service')
       AND NOT 'search_path=pg_catalog, public, pg_temp' = ANY (proconfig)$$,
    'the API functions pin search_path = pg_catalog, public, pg_temp');
SELECT is_empty($$
    SELECT proname FROM pg_proc
     WHERE pronamespace = 'public'::regnamespace
       AND proname IN ('free_slots', 'create_contact', 'erase_contact', 'create_provider',
                       'set_working_hours', 'create_service')
       AND has_function_privilege('public', oid, 'EXECUTE')$$,
    'PUBLIC may not execute the API functions');

-- A new organization's default provider gets the same default hours.
SELECT create_organization('Defaults', 'UTC', sha256('d1'), sha256('d2'), sha256('d3'))
       ->> 'id' AS defaults_org \gset
SELECT is((SELECT p.working_hours FROM providers p
            WHERE p.is_default AND p.org_id = :'defaults_org'),
          '{"mon":[["09:00","17:00"]],"tue":[["09:00","17:00"]],"wed":[["09:00","17:00"]],
            "thu":[["09:00","17:00"]],"fri":[["09:00","17:00"]]}'::jsonb,
          'a new organization''s default provider works Monday-Friday 09:00-17:00');

SELECT * FROM finish();
ROLLBACK;
