-- wrk: the one line every bench script ends with, which bench/run.sh reads:
-- requests, duration, latency p50/p99, non-2xx answers and socket errors.
-- Loaded with dofile by the scripts (run from the project's root).
done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_ms=%.3f p99_ms=%.3f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
