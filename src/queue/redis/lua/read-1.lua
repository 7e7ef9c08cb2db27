--[[
  Delivers to a consumer never-delivered entries holding up to `max` events (the last
  entry may overshoot it by less than one entry), without blocking. Entries hold one or
  more events (see enqueue-2.lua) and XREADGROUP counts entries, so it reads in steps of
  ceil(left / perEntry) entries: however large the next entries are, the events delivered
  stay within max + perEntry - 1, which bounds a worker's memory.

  KEYS[1]  event stream
  ARGV[1]  consumer group
  ARGV[2]  consumer
  ARGV[3]  max events (> 0)
  ARGV[4]  most events one entry can hold

  Returns a flat array: id1, body1, n1, id2, ... (body and n as in enqueue-2.lua)
]]
--- @include "entry"
local rcall = redis.call
local key, group, consumer = KEYS[1], ARGV[1], ARGV[2]
local left, perEntry = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
while left > 0 do
  local count = math.max(1, math.ceil(left / perEntry))
  local reply = rcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', key, '>')
  local entries = reply and reply[1] and reply[1][2] or {}
  for i = 1, #entries do
    local id = entries[i][1]
    local body, n = entryOf(entries[i][2])
    out[#out + 1] = id
    out[#out + 1] = body
    out[#out + 1] = n
    left = left - n
  end
  if #entries < count then
    break
  end
end
return out
