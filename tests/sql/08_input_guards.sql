-- Guards of the booking functions against inputs the C side should never
-- send, and against callers without rights. Run like the other files.
\set ON_ERROR_STOP 1
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SELECT plan(7);

INSERT INTO organizations (id, name, timezone, vapi_secret_hash) VALUES
    ('11111111-1111-4111-8111-111111111111', 'Guards', 'UTC', sha256('guards'));
INSERT INTO providers (id, org_id, name, working_hours, is_default) VALUES
    ('aaaaaaaa-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111',
     'Default', '{}', true);
INSERT INTO contacts (id, org_id, name) VALUES
    ('cccccccc-0000-4000-8000-000000000001', '11111111-1111-4111-8111-111111111111', 'Guarded');

SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        '2030-01-01T14:00Z', 60, NULL, NULL, '{5,NULL,7,9}', '2030-01-01T14:00Z',
        '2030-01-01T15:00Z', 2000, 'system', NULL, NULL) $$,
    'BK005', NULL, 'a NULL lock key is refused');

SELECT throws_ok($$
    SELECT book_appointment_with_lock('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', 'cccccccc-0000-4000-8000-000000000001', NULL,
        NULL, 60, NULL, NULL, '{1,2,3,4}', '2030-01-01T14:00Z', '2030-01-01T15:00Z', 2000,
        'system', NULL, NULL) $$,
    'BK001', NULL, 'booking without scheduledAt is refused');

SELECT throws_ok($$
    SELECT check_availability('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', '2030-01-01T14:00Z', NULL, 0, 0, NULL) $$,
    'BK001', NULL, 'check without a duration is refused');

SELECT throws_ok($$
    SELECT check_availability('11111111-1111-4111-8111-111111111111',
        'aaaaaaaa-0000-4000-8000-000000000001', '2030-01-01T14:00Z', -5, 0, 0, NULL) $$,
    'BK001', NULL, 'check with a negative duration is refused');

SELECT is((SELECT count(*) FROM appointments), 0::bigint, 'nothing was written');

-- A role without rights cannot call the booking function.
CREATE ROLE guards_outsider NOLOGIN;
SELECT ok(NOT has_function_privilege('guards_outsider',
    'book_appointment_with_lock(uuid, uuid, uuid, uuid, timestamptz, int, text, jsonb, bigint[],'
    ' timestamptz, timestamptz, int, text, text, bytea, boolean, uuid, bytea)', 'EXECUTE'),
    'EXECUTE on the booking function is not granted to PUBLIC');

SELECT ok(NOT has_function_privilege('public', 'create_organization(text, text, bytea, bytea, bytea)',
                                     'EXECUTE'),
          'create_organization is not executable by PUBLIC');

SELECT * FROM finish();
ROLLBACK;
