-- wrk: numbers the threads 0, 1, ... as the global `id` of each, which the
-- slot scripts (book, hold, vapi) use to give every request a slot no other
-- thread uses. Loaded with dofile (run from the project's root).
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
