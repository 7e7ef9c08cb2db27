--[[
  Moves entries from the event stream to the dead-letter stream: for each entry still in
  the event stream, appends its payload (read from the stream, so it is exactly what was
  enqueued) with the reason to the dead-letter stream, then acknowledges and deletes the
  original. One atomic step: an entry is never in both streams, nor in neither.
  Entries no longer in the event stream (already acknowledged, e.g. committed by another
  worker after a reclaim) are skipped, so a committed event is never dead-lettered.

  KEYS[1]  event stream
  KEYS[2]  dead-letter stream (same hash slot as KEYS[1] on a cluster: hash-tag the prefix)
  ARGV[1]  consumer group
  ARGV[2]  reason
  ARGV[3]  first_seen: ISO-8601 time of dead-lettering
  ARGV[4..] pairs: entry id, delivery count

  Returns the number of entries moved.
]]
local rcall = redis.call
local key, dead, group, reason, firstSeen = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
local moved = 0
for i = 4, #ARGV, 2 do
  local id, deliveries = ARGV[i], ARGV[i + 1]
  local found = rcall('XRANGE', key, id, id)
  if #found > 0 then
    local fields = found[1][2]
    local payload = ''
    for j = 1, #fields, 2 do
      if fields[j] == 'e' then
        payload = fields[j + 1]
      end
    end
    rcall('XADD', dead, '*', 'payload', payload, 'reason', reason, 'deliveries', deliveries,
      'first_seen', firstSeen)
    rcall('XACK', key, group, id)
    rcall('XDEL', key, id)
    moved = moved + 1
  end
end
return moved
