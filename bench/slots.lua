-- wrk: the free slots of one busy day (30 appointments), over and over.
-- BENCH_KEY is the organization's admin key, BENCH_DATE the day.
local path = "/api/availability?date=" .. os.getenv("BENCH_DATE") .. "&durationMinutes=30"
local headers = {["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")}

function request()
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_ms=%.3f p99_ms=%.3f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
