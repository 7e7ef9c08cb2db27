--[[
  Acknowledges whole entries and deletes them from the stream, lowering the stream's event
  count by the events each held, so the cap in enqueue-2.lua frees up as workers commit.
  An entry deleted earlier (by another worker after a reclaim) is only acknowledged.

  KEYS[1]  event stream
  KEYS[2]  counts hash (see enqueue-2.lua)
  ARGV[1]  consumer group
  ARGV[2..] pairs: entry id, number of events in the entry

  Returns the number of events removed from the stream.

  One XACK and one XDEL per slice of ids, not per entry: per-entry calls held Redis for
  several ms per worker batch, and every producer's enqueue waited behind them. An entry is
  deleted in the same step as it is acknowledged (here or in deadletter-3.lua), so when XACK
  acknowledges every id of a slice none of them was deleted before and the slice's XDEL
  removes them all; otherwise each entry is deleted on its own to learn which ones still
  existed.
]]
--- @include "depth"
local rcall = redis.call
local key, counts, group = KEYS[1], KEYS[2], ARGV[1]
-- unpack() is limited by the Lua C stack (~8000 values): pass ids in slices.
local SLICE = 1000
local removed = 0
local entries = (#ARGV - 1) / 2
for first = 0, entries - 1, SLICE do
  local last = math.min(first + SLICE, entries) - 1
  local ids, events = {}, 0
  for p = first, last do
    ids[#ids + 1] = ARGV[2 + 2 * p]
    events = events + tonumber(ARGV[3 + 2 * p])
  end
  if rcall('XACK', key, group, unpack(ids)) == #ids then
    rcall('XDEL', key, unpack(ids))
    removed = removed + events
  else
    for p = first, last do
      if rcall('XDEL', key, ARGV[2 + 2 * p]) == 1 then
        removed = removed + tonumber(ARGV[3 + 2 * p])
      end
    end
  end
end
if removed > 0 then
  rcall('HSET', counts, 'depth', depthAfter(key, counts, removed))
end
return removed
