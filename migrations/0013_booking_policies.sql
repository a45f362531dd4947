-- Booking policies (API.md, "Booking policies"): how soon and how far ahead
-- patients may book, and how late they may cancel or move, per
-- organization. Admin keys are not bound by them; the public key, the voice
-- agent and manage links are (sql/10_booking.sql, bk_check_public_time;
-- sql/20_availability.sql, free_slots).
ALTER TABLE organizations
    ADD COLUMN minimum_notice_minutes int NOT NULL DEFAULT 0
        CHECK (minimum_notice_minutes BETWEEN 0 AND 43200),
    ADD COLUMN booking_horizon_days int NOT NULL DEFAULT 0
        CHECK (booking_horizon_days BETWEEN 0 AND 3650),
    ADD COLUMN cancellation_notice_hours int NOT NULL DEFAULT 0
        CHECK (cancellation_notice_hours BETWEEN 0 AND 168);

-- free_slots takes whether the public rules apply (then the policies cut
-- the grid); the old signature goes.
DROP FUNCTION IF EXISTS free_slots(uuid, uuid, date, int, int, int, int, timestamptz);
