-- The stream's event count after `removed` events left it (see enqueue-2.lua). With no
-- counter yet, the stream was written one event per entry (an earlier version), so what is
-- left is its XLEN; an empty stream holds nothing, whatever the counter says.
local function depthAfter(key, counts, removed)
  local left = redis.call('XLEN', key)
  if left == 0 then
    return 0
  end
  local current = redis.call('HGET', counts, 'depth')
  if not current then
    return left
  end
  local depth = tonumber(current) - removed
  if depth < 0 then
    return 0
  end
  return depth
end
