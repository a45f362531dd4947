-- 1. Audit entries get UUID ids like every other id of the API. The old
--    bigint identity stays as `seq`, the order of entries written at the
--    same instant (one transaction writes several).
-- 2. Idempotency keys are scoped to the kind of key that sent them as well
--    as to the organization (API.md, "Book"): `key_kind` is "admin",
--    "public" or "vapi" (bk_actor_kind in sql/10_booking.sql). Keys stored
--    before this change are taken as the admin key's; they expire within a
--    day.
-- 3. appointments.deleted_at was never used: cancel is the soft delete.
-- 4. The helpers whose signatures changed are dropped; sql/ defines the
--    new ones.

ALTER TABLE audit_logs RENAME COLUMN id TO seq;
ALTER TABLE audit_logs ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_id_key UNIQUE (id);

ALTER TABLE idempotency_keys
    ADD COLUMN key_kind text NOT NULL DEFAULT 'admin'
        CHECK (key_kind IN ('admin', 'public', 'vapi'));
ALTER TABLE idempotency_keys ALTER COLUMN key_kind DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (org_id, key_kind, key);

ALTER TABLE appointments DROP COLUMN deleted_at;

DROP FUNCTION IF EXISTS bk_claim_idempotency_key(uuid, text, bytea);
DROP FUNCTION IF EXISTS bk_store_idempotent_result(uuid, text, jsonb);
