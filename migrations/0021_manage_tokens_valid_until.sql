-- Manage tokens purged by their own index (docs/design.md, "Booking policies
-- and manage links"; bench/HISTORY.md, step 43). The purge found the tokens
-- that work no more by joining every token to its appointment, each minute:
-- 2.1 s at 356,000 tokens (bench/EXPLAIN-10M.md). A token now carries the
-- start of its appointment, after which it works no more, and a cancel, a
-- move or an erasure deletes the appointment's tokens in its transaction
-- (bk_appointment_ended), so the purge reads only tokens whose time has
-- passed, by this index.
ALTER TABLE manage_tokens ADD COLUMN valid_until timestamptz;
UPDATE manage_tokens t SET valid_until = a.scheduled_at
  FROM appointments a WHERE a.id = t.appointment_id;
DELETE FROM manage_tokens t
 WHERE NOT EXISTS (SELECT 1 FROM appointments a
                    WHERE a.id = t.appointment_id AND a.status = 'confirmed');
ALTER TABLE manage_tokens ALTER COLUMN valid_until SET NOT NULL;
CREATE INDEX manage_tokens_valid_until ON manage_tokens (valid_until);

-- Replaced by bk_appointment_ended (sql/45_integrations.sql), which also
-- deletes the appointment's manage tokens.
DROP FUNCTION IF EXISTS bk_void_reminders(uuid);
