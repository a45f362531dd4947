-- wrk: one page of appointments as the dashboard's week view asks for it
-- (GET /api/appointments?from&to&providerId&limit=500), over and over.
-- BENCH_KEY is the organization's admin key, BENCH_QUERY the query string.
-- The request never changes, so wrk sends it without calling Lua per request.
wrk.method = "GET"
wrk.path = "/api/appointments?" .. os.getenv("BENCH_QUERY")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

dofile("bench/report.lua")
