-- Self-service links for patients (API.md, "Self-service links for
-- patients"; docs/design.md, "Policies and manage links"): a manage token
-- is 32 random bytes shown once in a link; only its SHA-256 is kept, with
-- the one appointment it is for. A token works while its appointment is
-- confirmed and ahead; a booking through the public key gets one, and so
-- does each text message that carries a link.
CREATE TABLE manage_tokens (
    token_hash     bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    org_id         uuid NOT NULL,
    appointment_id uuid NOT NULL REFERENCES appointments ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX manage_tokens_appointment ON manage_tokens (appointment_id);

-- The booking and reschedule functions take the new appointment's token
-- (and the reschedule the public rules); the old signatures go.
DROP FUNCTION IF EXISTS book_appointment_with_lock(uuid, uuid, uuid, uuid, timestamptz, int, text,
                                                   jsonb, bigint[], timestamptz, timestamptz, int,
                                                   text, text, bytea, boolean, uuid);
DROP FUNCTION IF EXISTS reschedule_appointment_with_lock(uuid, uuid, uuid, timestamptz, int,
                                                         bigint[], timestamptz, timestamptz, int,
                                                         text, text, bytea);
