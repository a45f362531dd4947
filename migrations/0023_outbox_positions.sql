-- The fan-out's cursor becomes a log it appends to: each fan-out adds its
-- new position, the newest row is the cursor, and the housekeeping
-- removes the older ones (outbox_purge). One worker fans out at a time by
-- a transaction-scoped advisory lock (sql/50_deliveries.sql,
-- outbox_fan_out) instead of the one row's lock.
--
-- Why (bench/HISTORY.md, step 47): the one row got a new version with
-- every fan-out, dozens a second. While any transaction on the cluster
-- stays open (a pg_dump, a report), none of those versions can be removed,
-- and every fan-out read them all to find the row: its time grew with
-- every fan-out made since. The newest row of the log is the first entry
-- of its index read backwards, whatever lies behind it.
CREATE TABLE outbox_positions (
    xid  xid8 NOT NULL,
    seq  bigint NOT NULL,
    PRIMARY KEY (xid, seq)
);
INSERT INTO outbox_positions (xid, seq) SELECT xid, seq FROM outbox_cursor;
-- The view reads the cursor (sql/50_deliveries.sql makes it again).
DROP VIEW IF EXISTS outbox_events;
DROP TABLE outbox_cursor;
-- The worker's fan-out answers whether events wait behind the horizon.
DROP FUNCTION IF EXISTS outbox_fan_out(int, int, int, int);
