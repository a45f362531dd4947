-- wrk: book distinct slots over HTTP. Every request goes to one of many
-- organizations, at a time no other request of the run uses:
-- slot = thread + threads * k; organization = slot % N; time = base +
-- floor(slot / N) * 30 min. BENCH_DATA lists "adminKey contactId" per line.
local keys, contacts = {}, {}
for line in io.lines(os.getenv("BENCH_DATA")) do
  local k, c = line:match("^(%S+) (%S+)$")
  keys[#keys + 1] = k
  contacts[#contacts + 1] = c
end
local n_orgs = #keys
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))
local threads = tonumber(os.getenv("BENCH_THREADS"))
local counter = 0

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function request()
  local slot = id + threads * counter
  counter = counter + 1
  local org = slot % n_orgs + 1
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ", base + math.floor(slot / n_orgs) * 1800)
  local body = '{"contactId":"' .. contacts[org] .. '","scheduledAt":"' .. at ..
               '","durationMinutes":30}'
  return wrk.format("POST", "/api/appointments",
                    {["Authorization"] = "Bearer " .. keys[org],
                     ["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_ms=%.3f p99_ms=%.3f non2xx=%d sockerr=%d\n",
    summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
