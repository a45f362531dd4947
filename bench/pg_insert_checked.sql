-- pgbench: the same row INSERTed straight into appointments, with every
-- constraint, index and foreign key of the table but without the booking
-- protocol (no bucket locks, no audit or outbox row, no PL/pgSQL). Between
-- this and the bare INSERT lies the price of the table's integrity; between
-- this and the function, the price of the protocol. ON CONFLICT DO NOTHING
-- as in the function's own insert (two random slots that collide would
-- otherwise abort a pgbench client); times before the year 2000, so that no
-- row can overlap one the other scripts book.
\set slot random(0, 50000000)
\set o random(1, :orgs)
INSERT INTO appointments (org_id, provider_id, contact_id, scheduled_at, duration_minutes,
                          ends_at, buffered_start, buffered_end)
SELECT o.org_id, o.provider_id, o.contact_id,
       timestamptz '2000-01-01' - (:slot + 1) * interval '30 minutes', 30,
       timestamptz '2000-01-01' - :slot * interval '30 minutes',
       timestamptz '2000-01-01' - (:slot + 1) * interval '30 minutes',
       timestamptz '2000-01-01' - :slot * interval '30 minutes'
  FROM bench_orgs o WHERE o.n = :o
ON CONFLICT DO NOTHING;
