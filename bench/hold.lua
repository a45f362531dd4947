-- wrk: holds over HTTP, on distinct slots as bench/book.lua books them
-- (same slot numbering, same organizations). BENCH_MODE:
--   hold     each request holds a slot (POST /api/holds);
--   convert  each slot is held, then booked with the hold's holdId (POST
--            /api/appointments): the voice agent's and the booking page's
--            way to book, two requests a booking.
-- BENCH_DATA lists "adminKey contactId providerId" per line; the hold's
-- answer names its provider, which says whose contact books it.
local keys, contacts, org_of = {}, {}, {}
for line in io.lines(os.getenv("BENCH_DATA")) do
  local k, c, p = line:match("^(%S+) (%S+) (%S+)$")
  keys[#keys + 1] = k
  contacts[#contacts + 1] = c
  org_of[p] = #keys
end
local n_orgs = #keys
local base = tonumber(os.getenv("BENCH_BASE_EPOCH"))
local threads = tonumber(os.getenv("BENCH_THREADS"))
local convert = os.getenv("BENCH_MODE") == "convert"
local counter = 0
local hold_heads, book_heads = {}, {}
local hold_tail = '","durationMinutes":30,"ttlSeconds":300}'
local pending = {} -- conversions waiting for a connection, first in first out
local first, last = 1, 0

dofile("bench/threads.lua")

local function head(path, key, length)
  return "POST " .. path .. " HTTP/1.1\r\n" ..
         "Host: " .. wrk.headers["Host"] .. "\r\n" ..
         "Authorization: Bearer " .. key .. "\r\n" ..
         "Content-Type: application/json\r\n" ..
         "Content-Length: " .. length .. "\r\n\r\n"
end

function init(args)
  for org = 1, n_orgs do
    local body_start = '{"scheduledAt":"'
    hold_heads[org] = head("/api/holds", keys[org], #body_start + 20 + #hold_tail) .. body_start
    book_heads[org] = keys[org]
  end
end

function request()
  if first <= last then
    local r = pending[first]
    pending[first] = nil
    first = first + 1
    return r
  end
  local slot = id + threads * counter
  counter = counter + 1
  local org = slot % n_orgs + 1
  return hold_heads[org] ..
         os.date("!%Y-%m-%dT%H:%M:%SZ", base + math.floor(slot / n_orgs) * 1800) .. hold_tail
end

if convert then
  function response(status, headers, body)
    if status ~= 201 then return end
    local hold = body:match('"holdId":"([^"]+)"')
    if not hold then return end
    local at = body:match('"scheduledAt":"([^"]+)"')
    local org = org_of[body:match('"providerId":"([^"]+)"')]
    local b = '{"contactId":"' .. contacts[org] .. '","scheduledAt":"' .. at ..
              '","durationMinutes":30,"holdId":"' .. hold .. '"}'
    last = last + 1
    pending[last] = head("/api/appointments", book_heads[org], #b) .. b
  end
end

dofile("bench/report.lua")
