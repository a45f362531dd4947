-- pgbench: bench/pg_book.sql as BOOKD_DB_STATEMENTS=unnamed sends it, with
-- the statement's timeout set in its own transaction first, in one pipeline
-- (one Sync, one round trip). Run with -M extended. Its slots are
-- bench/pg_book.sql's (the same variables).
\set g :n * :nc + :client_id
\set n :n + 1
\set o :g % :orgs + 1
\set slot :base + :g / :orgs
\set k (:slot * :orgs + :o) * 2
\set k1 :k + 1
\startpipeline
SELECT set_config('statement_timeout', '5000', true);
SELECT book_appointment_with_lock(o.org_id, o.provider_id, o.contact_id, NULL,
    timestamptz '3000-01-01' + :slot * interval '30 minutes', 30, NULL, NULL,
    ARRAY[:k::bigint, :k1::bigint],
    timestamptz '3000-01-01' + :slot * interval '30 minutes',
    timestamptz '3000-01-01' + (:slot + 1) * interval '30 minutes',
    2000, 'system', NULL, NULL, false)::text
  FROM bench_orgs o WHERE o.n = :o;
\endpipeline
