-- wrk: the free slots of one busy day (30 appointments), over and over.
-- BENCH_KEY is the organization's admin key, BENCH_DATE the day. The request
-- never changes, so it is set once and wrk sends it without calling Lua per
-- request (the load generator shares the cores with bookd and PostgreSQL).
wrk.method = "GET"
wrk.path = "/api/availability?date=" .. os.getenv("BENCH_DATE") .. "&durationMinutes=30"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

dofile("bench/report.lua")
