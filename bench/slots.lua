-- wrk: the free slots of one busy day (30 appointments), over and over.
-- BENCH_KEY is the organization's admin key, BENCH_DATE the day. The request
-- never changes, so it is set once and wrk sends it without calling Lua per
-- request (the load generator shares the cores with bookd and PostgreSQL).
wrk.method = "GET"
wrk.path = "/api/availability?date=" .. os.getenv("BENCH_DATE") .. "&durationMinutes=30"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_ms=%.3f p99_ms=%.3f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
