-- pgbench: bookd's booking function called directly, distinct slots. The
-- lock keys stand in for the real ones (two ascending keys per 30 minutes,
-- unique per slot); their cost is the same. Slots from the year 3000 on
-- (random, to the year 31,500): apart from the HTTP runs' (2040 on, ten
-- years a run), which would otherwise meet one of these now and then and be
-- refused with 409, counted as an error.
\set slot random(0, 500000000)
\set o random(1, :orgs)
SELECT book_appointment_with_lock(o.org_id, o.provider_id, o.contact_id, NULL,
    timestamptz '3000-01-01' + :slot * interval '30 minutes', 30, NULL, NULL,
    ARRAY[:slot * 2, :slot * 2 + 1]::bigint[],
    timestamptz '3000-01-01' + :slot * interval '30 minutes',
    timestamptz '3000-01-01' + (:slot + 1) * interval '30 minutes',
    2000, 'system', NULL, NULL, false)::text
  FROM bench_orgs o WHERE o.n = :o;
