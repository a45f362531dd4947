-- A cheaper booking, each change measured (bench/HISTORY.md, step 9 on).
-- The functions it once rewrote live in sql/ now; this file keeps its
-- schema changes.
--
-- 1. Single-column rules of appointments become domains. PostgreSQL reads a
--    table's CHECK constraints from their stored text, plans and compiles
--    them again at the start of every INSERT; a domain's checks are compiled
--    once per connection (the type cache). Same rules, same SQLSTATE (23514).
-- 2. The cross-column rules become one CHECK, written with plain interval
--    arithmetic: make_interval(mins => ...) expanded to seven arguments on
--    every parse.

CREATE DOMAIN bk_duration_minutes AS int CHECK (VALUE BETWEEN 1 AND 1440);
CREATE DOMAIN bk_buffer_minutes AS int CHECK (VALUE BETWEEN 0 AND 240);
CREATE DOMAIN bk_appointment_status AS text
    CHECK (VALUE IN ('confirmed', 'cancelled', 'rescheduled'));
CREATE DOMAIN bk_long_text AS text CHECK (length(VALUE) <= 2000);
CREATE DOMAIN bk_json_object AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');

ALTER TABLE appointments
    DROP CONSTRAINT appointments_duration_minutes_check,
    DROP CONSTRAINT appointments_buffer_before_minutes_check,
    DROP CONSTRAINT appointments_buffer_after_minutes_check,
    DROP CONSTRAINT appointments_status_check,
    DROP CONSTRAINT appointments_notes_check,
    DROP CONSTRAINT appointments_metadata_check,
    DROP CONSTRAINT appointments_cancel_reason_check,
    DROP CONSTRAINT appointments_check,
    DROP CONSTRAINT appointments_check1,
    DROP CONSTRAINT appointments_check2,
    DROP CONSTRAINT appointments_check3,
    DROP CONSTRAINT appointments_check4,
    ALTER COLUMN duration_minutes TYPE bk_duration_minutes,
    ALTER COLUMN buffer_before_minutes TYPE bk_buffer_minutes,
    ALTER COLUMN buffer_after_minutes TYPE bk_buffer_minutes,
    ALTER COLUMN status TYPE bk_appointment_status,
    ALTER COLUMN notes TYPE bk_long_text,
    ALTER COLUMN metadata TYPE bk_json_object,
    ALTER COLUMN cancel_reason TYPE bk_long_text,
    -- Derived columns are checked rather than trusted, so a caller that
    -- bypasses the booking functions cannot store an inconsistent range.
    ADD CONSTRAINT appointments_consistent CHECK (
        ends_at = scheduled_at + duration_minutes * interval '1 minute'
        AND buffered_start = scheduled_at - buffer_before_minutes * interval '1 minute'
        AND buffered_end = ends_at + buffer_after_minutes * interval '1 minute'
        AND (status = 'cancelled') = (cancelled_at IS NOT NULL)
        AND (status = 'rescheduled') = (rescheduled_to IS NOT NULL));

-- Replaced by bk_take_bucket_locks (sql/10_booking.sql).
DROP FUNCTION IF EXISTS bk_lock_buckets(bigint[], timestamptz, timestamptz, timestamptz,
                                        timestamptz, int);
