-- pgbench: bookd's booking function called directly, distinct slots in the
-- original design's pattern (its pgb_function.sql and the HTTP runs'
-- bench/book.lua alike): global number g = n * nc + client_id, the
-- organization g % orgs, the slot that organization's next one, so each
-- calendar fills forward as a practice's does. Random slots over centuries
-- (this script's first form) put every booking on a random leaf page of
-- each index of appointments, a cost the original's runs did not pay
-- (bench/HISTORY.md, step 38). Needs -D orgs= -D n=0 -D nc=<clients>
-- -D base=<slot> (bench_next_base() of bench/setup.sql: past every slot
-- booked before). Slots from the year 3000 on: apart from the HTTP runs'
-- (2040 on, ten years a run), which would otherwise meet one of these now
-- and then and be refused with 409, counted as an error. The lock keys
-- stand in for the real ones (two ascending keys a slot, unique to the
-- organization and slot); their cost is the same.
\set g :n * :nc + :client_id
\set n :n + 1
\set o :g % :orgs + 1
\set slot :base + :g / :orgs
\set k (:slot * :orgs + :o) * 2
\set k1 :k + 1
SELECT book_appointment_with_lock(o.org_id, o.provider_id, o.contact_id, NULL,
    timestamptz '3000-01-01' + :slot * interval '30 minutes', 30, NULL, NULL,
    ARRAY[:k::bigint, :k1::bigint],
    timestamptz '3000-01-01' + :slot * interval '30 minutes',
    timestamptz '3000-01-01' + (:slot + 1) * interval '30 minutes',
    2000, 'system', NULL, NULL, false)::text
  FROM bench_orgs o WHERE o.n = :o;
