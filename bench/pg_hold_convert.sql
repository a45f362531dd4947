-- pgbench: a hold, then the booking that converts it, both functions
-- called directly on distinct slots (as bench/pg_book.sql books them):
-- what a hold and its conversion cost PostgreSQL, next to one booking.
\set slot random(0, 500000000)
\set o random(1, :orgs)
SELECT hold_slot(o.org_id, o.provider_id, NULL,
    timestamptz '3000-01-01' + :slot * interval '30 minutes', 30, 300,
    ARRAY[:slot * 2, :slot * 2 + 1]::bigint[],
    timestamptz '3000-01-01' + :slot * interval '30 minutes',
    timestamptz '3000-01-01' + (:slot + 1) * interval '30 minutes',
    2000, 'system', false, 0) -> 'hold' ->> 'holdId' AS hold_id
  FROM bench_orgs o WHERE o.n = :o \gset
SELECT book_appointment_with_lock(o.org_id, o.provider_id, o.contact_id, NULL,
    timestamptz '3000-01-01' + :slot * interval '30 minutes', 30, NULL, NULL,
    ARRAY[:slot * 2, :slot * 2 + 1]::bigint[],
    timestamptz '3000-01-01' + :slot * interval '30 minutes',
    timestamptz '3000-01-01' + (:slot + 1) * interval '30 minutes',
    2000, 'system', NULL, NULL, false, :hold_id::uuid)::text
  FROM bench_orgs o WHERE o.n = :o;
