-- The free-slots function keeps one generic plan per statement and
-- connection, as the booking entry points do (bench/HISTORY.md, step 4).
--
-- Left to itself, each connection's plan cache plans free_slots' statements
-- for the given values five times and then keeps either planning on every
-- call or one generic plan, whichever the estimates of that moment favour.
-- Planned on every call, a request costs 2.5 times the machine CPU (pgbench,
-- bench/pg_slots.sql, 16 clients: 0.68-0.72 ms against 0.27-0.32 ms;
-- step 28). On the database step 28 measured, the cache chose the generic plans
-- anyway, but that choice rests on estimates that move with every ANALYZE;
-- the generic plan reads the provider's busy ranges of the day from the
-- exclusion constraint's GiST index whatever the values (EXPLAIN checked),
-- so it is the right plan for every call, and pinning it takes the choice
-- away.
ALTER FUNCTION free_slots(uuid, uuid, date, int, int, int, int, timestamptz)
    SET plan_cache_mode = force_generic_plan;
