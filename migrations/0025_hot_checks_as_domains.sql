-- The single-column CHECKs of the tables every booking, public booking or
-- tool call writes a row into become domains, as appointments' did in
-- migration 0005 (docs/design.md, "The data model"; bench/HISTORY.md,
-- step 56). PostgreSQL reads a table's CHECK constraints from their stored
-- text, plans and compiles them at the start of every INSERT: about
-- 0.01 ms a table for each booking. A domain's checks are compiled once per
-- connection, in the type cache. The rules are the same.
--
-- Each column is first given a domain with no constraint (the same type
-- underneath: no rewrite, its indexes kept, but for vapi_tool_results_call,
-- a partial index, built again), then the domain its rule, NOT
-- VALID: every value already stored passed the very same CHECK, which goes
-- in the same transaction, and validating would hold a lock that stops
-- writes while it reads every row. New values are checked as before.
CREATE DOMAIN bk_entity_type AS text;
CREATE DOMAIN bk_idempotency_key AS text;
CREATE DOMAIN bk_key_kind AS text;
CREATE DOMAIN bk_sha256 AS bytea;
CREATE DOMAIN bk_call_id AS text;

-- The events' view reads audit_logs' whole row (sql/50_deliveries.sql makes
-- it again).
DROP VIEW IF EXISTS outbox_events;

ALTER TABLE audit_logs ALTER COLUMN entity_type TYPE bk_entity_type;
ALTER TABLE idempotency_keys ALTER COLUMN key TYPE bk_idempotency_key,
                             ALTER COLUMN key_kind TYPE bk_key_kind;
ALTER TABLE manage_tokens ALTER COLUMN token_hash TYPE bk_sha256;
ALTER TABLE vapi_tool_results ALTER COLUMN tool_call_id TYPE bk_call_id,
                              ALTER COLUMN call_id TYPE bk_call_id;
ALTER TABLE vapi_call_holds ALTER COLUMN call_id TYPE bk_call_id;
ALTER TABLE vapi_calls ALTER COLUMN call_id TYPE bk_call_id;

ALTER DOMAIN bk_entity_type ADD CONSTRAINT bk_entity_type_check CHECK (VALUE IN (
    'appointment', 'contact', 'provider', 'service', 'webhook_endpoint', 'hold',
    'organization')) NOT VALID;
ALTER DOMAIN bk_idempotency_key ADD CONSTRAINT bk_idempotency_key_check
    CHECK (length(VALUE) BETWEEN 1 AND 255) NOT VALID;
ALTER DOMAIN bk_key_kind ADD CONSTRAINT bk_key_kind_check
    CHECK (VALUE IN ('admin', 'public', 'vapi')) NOT VALID;
ALTER DOMAIN bk_sha256 ADD CONSTRAINT bk_sha256_check CHECK (length(VALUE) = 32) NOT VALID;
ALTER DOMAIN bk_call_id ADD CONSTRAINT bk_call_id_check
    CHECK (length(VALUE) BETWEEN 1 AND 200) NOT VALID;

ALTER TABLE audit_logs DROP CONSTRAINT audit_logs_entity_type_check;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_key_check,
                             DROP CONSTRAINT idempotency_keys_key_kind_check;
ALTER TABLE manage_tokens DROP CONSTRAINT manage_tokens_token_hash_check;
ALTER TABLE vapi_tool_results DROP CONSTRAINT vapi_tool_results_tool_call_id_check,
                              DROP CONSTRAINT vapi_tool_results_call_id_check;
ALTER TABLE vapi_call_holds DROP CONSTRAINT vapi_call_holds_call_id_check;
ALTER TABLE vapi_calls DROP CONSTRAINT vapi_calls_call_id_check;
