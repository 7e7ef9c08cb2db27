--[[
  Acknowledges whole entries and deletes them from the stream, lowering the stream's event
  count by the events each held, so the cap in enqueue-2.lua frees up as workers commit.
  An entry deleted earlier (by another worker after a reclaim) is only acknowledged.

  KEYS[1]  event stream
  KEYS[2]  counts hash (see enqueue-2.lua)
  ARGV[1]  consumer group
  ARGV[2..] pairs: entry id, number of events in the entry

  Returns the number of events removed from the stream.
]]
local rcall = redis.call
local key, counts, group = KEYS[1], KEYS[2], ARGV[1]
local removed = 0
for i = 2, #ARGV, 2 do
  rcall('XACK', key, group, ARGV[i])
  if rcall('XDEL', key, ARGV[i]) == 1 then
    removed = removed + tonumber(ARGV[i + 1])
  end
end
if removed > 0 then
  local depth = tonumber(rcall('HGET', counts, 'depth') or '0') - removed
  if depth < 0 or rcall('XLEN', key) == 0 then
    depth = 0
  end
  rcall('HSET', counts, 'depth', depth)
end
return removed
