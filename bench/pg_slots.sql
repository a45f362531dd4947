-- pgbench: the statement bookd runs for GET /api/availability.
SELECT coalesce(json_agg(bk_iso(slot_start) ORDER BY slot_start), '[]')::text
  FROM bench_orgs o, free_slots(o.org_id, o.provider_id, :day::date, 30, 0, 0, 15, now())
 WHERE o.n = 1;
