-- wrk: book distinct slots over HTTP. Every request goes to one of many
-- organizations, at a time no other request of the run uses:
-- slot = thread + threads * k; organization = slot % N; time = base +
-- floor(slot / N) * 30 min. BENCH_DATA lists "adminKey contactId" per line.
--
-- The load generator shares the two cores with bookd and PostgreSQL, so a
-- request is two strings prepared per organization around the one part that
-- changes, the time, rather than built by wrk.format each time (wrk's user
-- time a request fell by about 40 %; bench/HISTORY.md, step 21).
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
local heads, tail = {}, '","durationMinutes":30}'

dofile("bench/threads.lua")

function init(args)
  for org = 1, n_orgs do
    local body_start = '{"contactId":"' .. contacts[org] .. '","scheduledAt":"'
    -- the time is always 20 characters: 2040-01-01T00:00:00Z
    local length = #body_start + 20 + #tail
    heads[org] = "POST /api/appointments HTTP/1.1\r\n" ..
                 "Host: " .. wrk.headers["Host"] .. "\r\n" ..
                 "Authorization: Bearer " .. keys[org] .. "\r\n" ..
                 "Content-Type: application/json\r\n" ..
                 "Content-Length: " .. length .. "\r\n\r\n" .. body_start
  end
end

-- BENCH_WORKDAYS=1: the slots are the bookable half hours of
-- bench/workdays.lua instead (BENCH_BASE_EPOCH a Monday), for bookings by
-- the public rules: BENCH_DATA then lists public keys.
dofile("bench/workdays.lua")
local workdays = os.getenv("BENCH_WORKDAYS") == "1"

function request()
  local slot = id + threads * counter
  counter = counter + 1
  local org = slot % n_orgs + 1
  local k = math.floor(slot / n_orgs)
  local at = workdays and workday_slot(base, k) or base + k * 1800
  return heads[org] .. os.date("!%Y-%m-%dT%H:%M:%SZ", at) .. tail
end

-- BENCH_PACE_MS: each connection waits this long before each request, so
-- that the load stays below what the machine can do (the delivery
-- measurement's steady rate).
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "")
if pace then
  function delay()
    return pace
  end
end

dofile("bench/report.lua")
