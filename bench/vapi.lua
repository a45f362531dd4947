-- wrk: bookings through the voice agent (POST /api/webhooks/vapi, one
-- bookAppointment tool call a request), on distinct slots inside working
-- hours, since Vapi books by the public rules (bench/workdays.lua, from
-- BENCH_BASE_EPOCH, a Monday).
-- Every request is its own call and tool call (ids made from the slot), so
-- nothing is a retry. BENCH_DATA lists "vapiSecret phone" per line. Every
-- answer is a 200, so bench/run.sh counts the bookings in the database (no
-- response() here: reading every answer in Lua would cost the load
-- generator more than the plain bookings' runs, on the same two cores).
local secrets, phones = {}, {}
for line in io.lines(os.getenv("BENCH_DATA")) do
  local s, p = line:match("^(%S+) (%S+)$")
  secrets[#secrets + 1] = s
  phones[#phones + 1] = p
end
local n_orgs = #secrets
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))
local threads = tonumber(os.getenv("BENCH_THREADS"))
local counter = 0

dofile("bench/threads.lua")
dofile("bench/workdays.lua")

function request()
  local slot = id + threads * counter
  counter = counter + 1
  local org = slot % n_orgs + 1
  local k = math.floor(slot / n_orgs)
  local body = '{"message":{"type":"tool-calls","call":{"id":"bench-' .. slot ..
    '","customer":{"number":"' .. phones[org] .. '"}},"toolCallList":[{"id":"bench-tc-' ..
    base .. '-' .. slot .. '","type":"function","function":{"name":"bookAppointment",' ..
    '"arguments":{"scheduledAt":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ", workday_slot(base, k)) ..
    '","name":"Bench Caller","durationMinutes":30}}}]}}'
  return "POST /api/webhooks/vapi HTTP/1.1\r\n" ..
         "Host: " .. wrk.headers["Host"] .. "\r\n" ..
         "x-vapi-secret: " .. secrets[org] .. "\r\n" ..
         "Content-Type: application/json\r\n" ..
         "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

dofile("bench/report.lua")
