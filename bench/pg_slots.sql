-- pgbench: the statement bookd runs for GET /api/availability.
SELECT '[' || coalesce(string_agg(format('{"scheduledAt":"%s","durationMinutes":%s}',
                                         bk_iso(slot_start), 30), ',' ORDER BY slot_start), '') || ']'
  FROM bench_orgs o, free_slots(o.org_id, o.provider_id, :day::date, 30, 0, 0, 15, now())
 WHERE o.n = 1;
