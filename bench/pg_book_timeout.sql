-- pgbench: bench/pg_book.sql as BOOKD_DB_STATEMENTS=unnamed sends it, with
-- the statement's timeout set in its own transaction first, in one pipeline
-- (one Sync, one round trip). Run with -M extended.
\set slot random(0, 500000000)
\set o random(1, :orgs)
\startpipeline
SELECT set_config('statement_timeout', '5000', true);
SELECT book_appointment_with_lock(o.org_id, o.provider_id, o.contact_id, NULL,
    timestamptz '3000-01-01' + :slot * interval '30 minutes', 30, NULL, NULL,
    ARRAY[:slot * 2, :slot * 2 + 1]::bigint[],
    timestamptz '3000-01-01' + :slot * interval '30 minutes',
    timestamptz '3000-01-01' + (:slot + 1) * interval '30 minutes',
    2000, 'system', NULL, NULL, false)::text
  FROM bench_orgs o WHERE o.n = :o;
\endpipeline
