-- One row for an audit entry and the event it announces (bench/HISTORY.md,
-- step 37; docs/design.md, "Outbox, webhooks, integrations").
--
-- Every event already had an audit entry written beside it in the same
-- transaction, about the same entity: a booking wrote two rows (and seven
-- index entries), and the fan-out then updated the event once more. Now:
--
-- 1. An audit entry that is also an event names it in event_type. Its
--    payload is not copied: bk_event_payload (sql/50_deliveries.sql) builds
--    it from the appointment when it is sent, as it stood when the event
--    happened. Personal data is then stored once, in the appointment, and
--    an erasure that scrubs the appointment scrubs every event with it.
-- 2. The worker's fan-out follows the events with a cursor instead of
--    marking each one processed. xid is the writing transaction's id: an
--    entry becomes visible when its transaction commits, which is not the
--    order of seq, but once every transaction older than a given xid has
--    ended (the snapshot's xmin), no entry with a lower xid can appear any
--    more. The fan-out reads entries with (xid, seq) past outbox_cursor and
--    xid below that horizon, then moves the cursor; one worker at a time
--    holds the cursor's row.
-- 3. deliveries point at the audit entry; outbox_events goes.
--
-- Data already there: each event is matched to the audit entry written in
-- its transaction (same organization, entity, action and now()). Events not
-- fanned out yet get this transaction's xid, so the fan-out takes them up
-- once the migration has committed; the others xid 0, behind the cursor.
-- Deliveries follow their event.

ALTER TABLE audit_logs ADD COLUMN event_type text, ADD COLUMN xid xid8;
ALTER TABLE audit_logs ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_logs_events ON audit_logs (xid, seq) WHERE event_type IS NOT NULL;

CREATE TABLE outbox_cursor (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    xid  xid8 NOT NULL,
    seq  bigint NOT NULL
);
-- Transaction ids start at 3: the cursor starts below all of them, and
-- above 0, the xid of the events fanned out before this migration.
INSERT INTO outbox_cursor (xid, seq) VALUES ('1', 0);

CREATE TEMPORARY TABLE event_match ON COMMIT DROP AS
SELECT DISTINCT ON (ev.id) ev.id AS event_id, l.seq, ev.event_type,
       ev.processed_at IS NULL AS pending
  FROM outbox_events ev
  JOIN audit_logs l ON l.org_id = ev.org_id AND l.entity_id = ev.entity_id AND l.at = ev.created_at
                   AND l.action = CASE ev.event_type WHEN 'appointment.rescheduled'
                                                     THEN 'appointment.booked'
                                                     ELSE ev.event_type END
 ORDER BY ev.id, l.seq;

UPDATE audit_logs l
   SET event_type = m.event_type,
       xid = CASE WHEN m.pending THEN pg_current_xact_id() ELSE '0' END
  FROM event_match m
 WHERE l.seq = m.seq;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_fkey;
DELETE FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM event_match m WHERE m.event_id = d.event_id);
UPDATE deliveries d SET event_id = l.id
  FROM event_match m JOIN audit_logs l ON l.seq = m.seq
 WHERE d.event_id = m.event_id;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES audit_logs (id) ON DELETE CASCADE;

-- Functions that named the old table or changed their signature; sql/
-- defines the new ones.
DROP FUNCTION IF EXISTS bk_emit(uuid, text, uuid, jsonb);
DROP FUNCTION IF EXISTS bk_audit(uuid, text, text, text, uuid, jsonb);
DROP FUNCTION IF EXISTS bk_record_booked(uuid, text, appointments, jsonb, uuid, text, jsonb);
DROP FUNCTION IF EXISTS bk_integration_actions(outbox_events, integrations);
DROP FUNCTION IF EXISTS bk_scrub_appointment_payload(jsonb);
DROP TABLE outbox_events;
