-- pgbench: a bare single-row INSERT of the same row, no locks, no checks.
\set slot random(0, 500000000)
\set o random(1, :orgs)
INSERT INTO bench_plain (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                         ends_at, buffered_start, buffered_end)
SELECT o.org_id, o.provider_id, o.contact_id,
       timestamptz '2100-01-01' + :slot * interval '30 minutes', 30,
       timestamptz '2100-01-01' + :slot * interval '30 minutes' + interval '30 minutes',
       timestamptz '2100-01-01' + :slot * interval '30 minutes',
       timestamptz '2100-01-01' + :slot * interval '30 minutes' + interval '30 minutes'
  FROM bench_orgs o WHERE o.n = :o;
