-- wrk: the k-th bookable half hour of the runs that book by the public rules
-- (bench/vapi.lua, bench/public.lua): inside the default working hours of an
-- organization in UTC, slot k is the (k mod 16)th half hour from 09:00 of the
-- (k div 16)th weekday from `base` (the epoch of a Monday). Loaded with dofile
-- (run from the project's root).
function workday_slot(base, k)
  local day = math.floor(k / 16)
  local week, weekday = math.floor(day / 5), day % 5
  return base + (week * 7 + weekday) * 86400 + 9 * 3600 + (k % 16) * 1800
end
