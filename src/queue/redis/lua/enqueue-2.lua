--[[
  Appends entries to the event stream while the events it holds stay within the cap. The
  count check and the appends run as one atomic step, so concurrent producers can never push
  the stream past the cap (the seed's LLEN-then-LPUSH could).

  An entry carries a producer's coalesced batch: field `b` is its payloads joined with "\n"
  (payloads are JSON text without a raw newline; one with a newline travels alone, n = 1)
  and field `n` their number. One XADD per batch instead of per event is what makes the
  stream cheap at high rates (measured in issue 6). The stream's event count lives in the
  `depth` field of KEYS[2] (XLEN counts entries, not events); `added` counts every event
  ever appended (committed = added - depth, read in O(1)).

  KEYS[1]  event stream
  KEYS[2]  counts hash: depth, added
  ARGV[1]  cap: maximum events in the stream (unread + pending)
  ARGV[2..] pairs: n, body

  An entry that does not fit whole is cut at the last payload that fits. Returns the number
  of leading events appended; the rest were not (the stream was full).
]]
local rcall = redis.call
local key, counts = KEYS[1], KEYS[2]
local depth = 0
if rcall('XLEN', key) > 0 then
  -- A missing counter with entries present: a stream written before the counter existed
  -- (one event per entry). An empty stream holds no events whatever the counter says.
  depth = tonumber(rcall('HGET', counts, 'depth') or rcall('XLEN', key))
end
local room = tonumber(ARGV[1]) - depth
local added = 0
for i = 2, #ARGV, 2 do
  if room <= 0 then
    break
  end
  local n, body = tonumber(ARGV[i]), ARGV[i + 1]
  if n > room then
    -- Keep the first `room` payloads: cut before the room-th newline.
    local pos = 0
    for _ = 1, room do
      pos = string.find(body, '\n', pos + 1, true)
    end
    body = string.sub(body, 1, pos - 1)
    n = room
  end
  if n == 1 then
    rcall('XADD', key, '*', 'b', body)
  else
    rcall('XADD', key, '*', 'b', body, 'n', n)
  end
  room = room - n
  added = added + n
end
rcall('HSET', counts, 'depth', depth + added)
if added > 0 then
  rcall('HINCRBY', counts, 'added', added)
end
return added
