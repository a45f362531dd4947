-- Scale with data (bench/RESULTS.md, "Scale with data"; the plans at 10 M
-- appointments in bench/EXPLAIN-10M.md; tests/sql/40_scale_plans.sql).
--
-- 1. The erasure of a contact (sql/40_erasure.sql) scrubs the copies of its
--    appointments in the outbox. No index led there: it read every event of
--    the organization (a sequential scan of the whole table, then a test of
--    each payload), 0.5-1.1 s at 10 M appointments with a month of events.
--    Every event that carries an appointment object is about that
--    appointment (entity_id: bk_record_booked, cancel_appointment,
--    erase_contact), so the erasure now finds the events through the
--    contact's appointments and this index.
--
-- 2. Time-ordered ids. A booking inserts a new id into five B-tree indexes
--    (appointments' primary key, audit_logs' id and its (org, entity)
--    index, outbox_events' primary key and the index above). Random ids
--    (gen_random_uuid) land on a random leaf page of each: once the indexes
--    outgrow shared_buffers, a booking at 10 M read about 4 pages and wrote
--    3.3 full-page images to the WAL (23 kB against 3 kB at 10 k), and made
--    0.73-0.85 of the bookings a second of the 10 k database. bk_uuid7()
--    makes the UUID version 7 of RFC 9562 (48 bits of Unix milliseconds,
--    then random bits): new ids of one moment sort together, so they go to
--    the same few leaf pages, which stay in memory (measured: 0.3 page reads
--    and no full-page image a booking at 10 M, as at 10 k). An id tells when
--    its row was made, which these rows already show (createdAt, at).
--    It is part of the schema, as the domains are: the columns' defaults
--    call it, so it is made here, before the function files, and changed by
--    a migration only. The booking functions (sql/10_booking.sql) call it
--    for new appointments.
--
-- For operators: migrations run in one transaction, so the CREATE INDEX
-- holds a SHARE lock on outbox_events while it builds, and bookings (each
-- writes an event) wait for it: about a second per million events on two
-- cores. To build it without blocking writes, run before migrating
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_events_entity
--       ON outbox_events (entity_id);
-- and the statement below then finds it there. The rest takes no time.
CREATE INDEX IF NOT EXISTS outbox_events_entity ON outbox_events (entity_id);

CREATE OR REPLACE FUNCTION bk_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
                                      PLACING substring(int8send(floor(extract(epoch FROM
                                          clock_timestamp()) * 1000)::bigint) FROM 3)
                                      FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

ALTER TABLE appointments ALTER COLUMN id SET DEFAULT bk_uuid7();
ALTER TABLE audit_logs ALTER COLUMN id SET DEFAULT bk_uuid7();
ALTER TABLE outbox_events ALTER COLUMN id SET DEFAULT bk_uuid7();
ALTER TABLE deliveries ALTER COLUMN id SET DEFAULT bk_uuid7();
