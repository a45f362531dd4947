-- Tables the pgbench side of the benchmark uses. bench_orgs maps 1..N to
-- the organizations the HTTP side books into; bench_plain has the columns
-- and defaults of appointments in plain types (no domains), and none of its
-- checks, foreign keys or other indexes: what a bare single-row INSERT costs.
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_orgs, bench_plain;
CREATE TABLE bench_orgs (n int PRIMARY KEY, org_id uuid, provider_id uuid, contact_id uuid);
CREATE TABLE bench_plain (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                uuid NOT NULL,
    provider_id           uuid NOT NULL,
    contact_id            uuid NOT NULL,
    service_id            uuid,
    scheduled_at          timestamptz NOT NULL,
    duration_minutes      int NOT NULL,
    ends_at               timestamptz NOT NULL,
    buffer_before_minutes int NOT NULL DEFAULT 0,
    buffer_after_minutes  int NOT NULL DEFAULT 0,
    buffered_start        timestamptz NOT NULL,
    buffered_end          timestamptz NOT NULL,
    status                text NOT NULL DEFAULT 'confirmed',
    notes                 text,
    metadata              jsonb NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now(),
    cancelled_at          timestamptz,
    cancel_reason         text,
    rescheduled_to        uuid,
    rescheduled_from      uuid
);

-- The first slot of a pgbench run of bench/pg_book.sql (-D base=): past
-- every slot booked from the year 3000 on (the first call reads the
-- largest; each call then hands out the next 100,000 slots an
-- organization, room for 10 M bookings of 100 organizations a run).
DROP SEQUENCE IF EXISTS bench_base;
CREATE SEQUENCE bench_base INCREMENT 100000;
DO $$
BEGIN
    PERFORM setval('bench_base', coalesce(ceil(extract(epoch FROM max(scheduled_at)
                                                       - timestamptz '3000-01-01') / 1800)::bigint,
                                          0) + 100000, false)
       FROM appointments WHERE scheduled_at >= '3000-01-01';
END
$$;
CREATE OR REPLACE FUNCTION bench_next_base() RETURNS bigint LANGUAGE sql
AS $$ SELECT nextval('bench_base') $$;
