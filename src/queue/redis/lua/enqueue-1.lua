--[[
  Appends payloads to the event stream while it holds fewer entries than its cap. The
  length check and the appends run as one atomic step, so concurrent producers can never
  push the stream past the cap (the seed's LLEN-then-LPUSH could).

  KEYS[1]  event stream
  ARGV[1]  cap: maximum entries in the stream (unread + pending)
  ARGV[2..] payloads, in order; each becomes one entry with the single field `e`

  Returns the number of payloads appended: ARGV[2 .. n+1] were queued, the rest were not
  (the stream was full). Acknowledged entries are deleted, so XLEN is the backlog.
]]
local rcall = redis.call
local key = KEYS[1]
local room = tonumber(ARGV[1]) - rcall('XLEN', key)
local n = #ARGV - 1
if room < n then
  n = room
end
if n < 0 then
  n = 0
end
for i = 2, n + 1 do
  rcall('XADD', key, '*', 'e', ARGV[i])
end
return n
