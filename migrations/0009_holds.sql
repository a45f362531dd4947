-- Slot holds (docs/design.md, "Slot holds"): a hold is a row of
-- appointments with status 'held' and an expires_at, so the one exclusion
-- constraint covers appointments and holds alike.
-- 1. 'held' joins the statuses; a hold has an expiry and may have no
--    contact yet (the caller is still deciding), an appointment has a
--    contact and no expiry.
-- 2. The exclusion constraint covers confirmed and held rows. An expired
--    hold still sits in it until the booking and hold functions remove it
--    under their locks (or the worker purges it), which is why every reader
--    also compares expires_at with the clock.
-- 3. The partial index of holds serves the purge and the per-organization
--    cap on holds.
-- 4. Holds are deleted (released, expired, purged), and deleting an
--    appointments row makes PostgreSQL look for rows that point at it
--    through rescheduled_to and rescheduled_from: without an index, two
--    scans of the whole table per row deleted (a purge of 1,000 holds in a
--    table of 260,000 rows ran for minutes). Partial indexes, so a booking
--    that is not a reschedule adds no entry.
-- 5. Audit entries of holds have entity type 'hold'.
-- 6. The helpers whose signatures changed are dropped; sql/ defines the
--    new ones.

ALTER DOMAIN bk_appointment_status DROP CONSTRAINT bk_appointment_status_check;
ALTER DOMAIN bk_appointment_status ADD CONSTRAINT bk_appointment_status_check
    CHECK (VALUE IN ('confirmed', 'cancelled', 'rescheduled', 'held'));

ALTER TABLE appointments
    ADD COLUMN expires_at timestamptz,
    ALTER COLUMN contact_id DROP NOT NULL,
    DROP CONSTRAINT appointments_consistent,
    ADD CONSTRAINT appointments_consistent CHECK (
        ends_at = scheduled_at + duration_minutes * interval '1 minute'
        AND buffered_start = scheduled_at - buffer_before_minutes * interval '1 minute'
        AND buffered_end = ends_at + buffer_after_minutes * interval '1 minute'
        AND (status = 'cancelled') = (cancelled_at IS NOT NULL)
        AND (status = 'rescheduled') = (rescheduled_to IS NOT NULL)
        AND (status = 'held') = (expires_at IS NOT NULL)
        AND (status = 'held' OR contact_id IS NOT NULL)),
    DROP CONSTRAINT appointments_no_overlap,
    -- The last line of defence: no two active rows (confirmed appointments
    -- and holds) of one provider overlap, whoever writes them.
    ADD CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        provider_id WITH =,
        tstzrange(buffered_start, buffered_end, '[)') WITH &&
    ) WHERE (status IN ('confirmed', 'held'));

CREATE INDEX appointments_holds ON appointments (org_id, expires_at) WHERE status = 'held';
CREATE INDEX appointments_rescheduled_to ON appointments (rescheduled_to)
    WHERE rescheduled_to IS NOT NULL;
CREATE INDEX appointments_rescheduled_from ON appointments (rescheduled_from)
    WHERE rescheduled_from IS NOT NULL;

ALTER TABLE audit_logs
    DROP CONSTRAINT audit_logs_entity_type_check,
    ADD CONSTRAINT audit_logs_entity_type_check CHECK (entity_type IN (
        'appointment', 'contact', 'provider', 'service', 'webhook_endpoint', 'hold'));

DROP FUNCTION IF EXISTS book_appointment_with_lock(uuid, uuid, uuid, uuid, timestamptz, int, text,
                                                   jsonb, bigint[], timestamptz, timestamptz, int,
                                                   text, text, bytea, boolean);
DROP FUNCTION IF EXISTS bk_insert_appointment(uuid, uuid, uuid, uuid, uuid, timestamptz, int, int,
                                              int, text, jsonb, uuid);
DROP FUNCTION IF EXISTS bk_find_conflict(uuid, uuid, timestamptz, timestamptz, uuid);
