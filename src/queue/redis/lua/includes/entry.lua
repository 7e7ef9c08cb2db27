-- The body and event count of a stream entry's fields (see enqueue-2.lua): `b` and `n`, or
-- `e` alone in the one-event-per-entry format of earlier versions.
local function entryOf(fields)
  local body, n = '', 1
  for j = 1, #fields, 2 do
    local f = fields[j]
    if f == 'b' or f == 'e' then
      body = fields[j + 1]
    elseif f == 'n' then
      n = tonumber(fields[j + 1])
    end
  end
  return body, n
end
