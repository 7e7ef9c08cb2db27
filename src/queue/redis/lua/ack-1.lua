--[[
  Acknowledges entries and deletes them from the stream, so that XLEN counts only the
  backlog (unread + pending) and the cap in enqueue-1.lua frees up as workers commit.

  KEYS[1]  event stream
  ARGV[1]  consumer group
  ARGV[2..] entry ids

  Returns the number of entries deleted from the stream.
]]
local rcall = redis.call
local key, group = KEYS[1], ARGV[1]
-- unpack() is limited by the Lua C stack (~8000 values): pass ids in slices.
local SLICE = 1000
local deleted = 0
for first = 2, #ARGV, SLICE do
  local last = math.min(first + SLICE - 1, #ARGV)
  rcall('XACK', key, group, unpack(ARGV, first, last))
  deleted = deleted + rcall('XDEL', key, unpack(ARGV, first, last))
end
return deleted
