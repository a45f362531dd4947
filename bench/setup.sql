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
