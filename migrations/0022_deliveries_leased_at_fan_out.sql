-- A delivery's first attempt no longer passes through the claim: the
-- fan-out that makes it leases it to its worker at once (outbox_fan_out,
-- bench/HISTORY.md, step 46). The claim serves only what waits unleased:
-- retries, deferrals, reminders, a manual retry, and deliveries whose
-- lease ran out, which deliveries_release hands back.
--
-- Why: an index entry of a row that left the index's predicate stays until
-- a vacuum, and a scan can only skip it cheaply once no snapshot can still
-- see the old row. While any transaction on the cluster stays open (a
-- pg_dump, a report), every claim read every delivery sent since it began:
-- with one snapshot held, the claim took 1.1 ms, then 3.6, 12 and 20 ms as
-- 20,000 deliveries a run went by. First attempts now never enter the
-- index the claim reads, so it stays as small as what really waits.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed') AND locked_until IS NULL;
-- The leases, for deliveries_release.
CREATE INDEX deliveries_leased ON deliveries (locked_until) WHERE locked_until IS NOT NULL;
-- Migration 0020 kept room on each page for the claim's update of
-- locked_until, then held by no index; it is indexed now, and a delivery
-- sent at its first attempt is never claimed.
ALTER TABLE deliveries RESET (fillfactor);
-- It takes the worker's room and lease now (sql/50_deliveries.sql).
DROP FUNCTION IF EXISTS outbox_fan_out_events(bigint[], int);
