-- Tables the pgbench side of the benchmark uses. bench_orgs maps 1..N to
-- the organizations the HTTP side books into; bench_plain is appointments
-- without the exclusion constraint, the checks or the foreign keys: what a
-- bare single-row INSERT costs.
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_orgs, bench_plain;
CREATE TABLE bench_orgs (n int PRIMARY KEY, org_id uuid, provider_id uuid, contact_id uuid);
CREATE TABLE bench_plain (LIKE appointments INCLUDING DEFAULTS);
ALTER TABLE bench_plain ADD PRIMARY KEY (id);
