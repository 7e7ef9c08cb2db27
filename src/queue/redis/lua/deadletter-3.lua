--[[
  Moves events to the dead-letter stream with a reason. Each payload is read from the event
  stream (so it is exactly what was enqueued); an event whose entry is no longer in the
  stream (already committed, e.g. by another worker after a reclaim) is skipped, so a
  committed event is never dead-lettered.

  An entry holding one event is acknowledged and deleted here, in the same atomic step: it
  is never in both streams, nor in neither. An event of a multi-event entry is only copied;
  its entry is acknowledged and deleted once every event in it is committed or
  dead-lettered: by ack-2.lua, or here, in the same step, when the caller names it among
  the entries this call completes.

  KEYS[1]  event stream
  KEYS[2]  dead-letter stream (same hash slot as KEYS[1] on a cluster: hash-tag the prefix)
  KEYS[3]  counts hash (see enqueue-2.lua)
  ARGV[1]  consumer group
  ARGV[2]  reason
  ARGV[3]  first_seen: ISO-8601 time of dead-lettering
  ARGV[4]  number of triples that follow
  ARGV[5..] triples: entry id, index of the event in the entry (0-based), delivery count;
           then pairs: id of a multi-event entry this call completes, events it holds

  Returns the number of events moved.
]]
--- @include "entry"
--- @include "depth"
local rcall = redis.call
local key, dead, counts = KEYS[1], KEYS[2], KEYS[3]
local group, reason, firstSeen = ARGV[1], ARGV[2], ARGV[3]

-- The index-th payload of a body joined with "\n".
local function nth(body, index)
  local from = 1
  for _ = 1, index do
    from = string.find(body, '\n', from, true) + 1
  end
  local to = string.find(body, '\n', from, true)
  return string.sub(body, from, to and to - 1 or -1)
end

local moved, removed = 0, 0
local afterTriples = 5 + 3 * tonumber(ARGV[4])
for i = 5, afterTriples - 1, 3 do
  local id, index, deliveries = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local found = rcall('XRANGE', key, id, id)
  if #found > 0 then
    local body, n = entryOf(found[1][2])
    local payload = body
    if n > 1 then
      payload = nth(body, index)
    end
    rcall('XADD', dead, '*', 'payload', payload, 'reason', reason, 'deliveries', deliveries,
      'first_seen', firstSeen)
    moved = moved + 1
    if n == 1 then
      rcall('XACK', key, group, id)
      removed = removed + rcall('XDEL', key, id)
    end
  end
end
for i = afterTriples, #ARGV, 2 do
  rcall('XACK', key, group, ARGV[i])
  if rcall('XDEL', key, ARGV[i]) == 1 then
    removed = removed + tonumber(ARGV[i + 1])
  end
end
if removed > 0 then
  rcall('HSET', counts, 'depth', depthAfter(key, counts, removed))
end
return moved
