--[[
  Transfers to a consumer the entries other consumers received at least `minIdle` ms ago
  without acknowledging them, and reports each one's real delivery count (XAUTOCLAIM
  increments it; XPENDING reads it back). Scans the pending list from the start, following
  XAUTOCLAIM's cursor until entries holding `max` events are claimed or the list is
  exhausted.

  Entries deleted from the stream while pending (trimmed, or deleted by hand) cannot be
  delivered: they are acknowledged away and not returned. Redis 7 reports them in the
  third element of XAUTOCLAIM's reply; Redis 6.2 returns them with nil fields.

  KEYS[1]  event stream
  ARGV[1]  consumer group
  ARGV[2]  consumer that takes the entries
  ARGV[3]  minimum idle time, ms
  ARGV[4]  events to claim (> 0)
  ARGV[5]  most events one entry can hold: each XAUTOCLAIM asks for ceil(left / this)
           entries, so the claim overshoots `max` by less than one entry

  Returns a flat array: id1, body1, n1, deliveries1, id2, ... (body and n as in enqueue-2.lua)
]]
--- @include "entry"
local rcall = redis.call
local key, group, consumer, minIdle = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local remaining = tonumber(ARGV[4])
local perEntry = tonumber(ARGV[5])
local SLICE = 1000

local function ackAll(ids)
  for first = 1, #ids, SLICE do
    rcall('XACK', key, group, unpack(ids, first, math.min(first + SLICE - 1, #ids)))
  end
end

local out = {}
local cursor = '0-0'
repeat
  local count = math.max(1, math.ceil(remaining / perEntry))
  local reply = rcall('XAUTOCLAIM', key, group, consumer, minIdle, cursor, 'COUNT', count)
  cursor = reply[1]
  local gone = {}
  local entries = reply[2]
  for i = 1, #entries do
    local id, fields = entries[i][1], entries[i][2]
    if fields then
      local body, n = entryOf(fields)
      local pending = rcall('XPENDING', key, group, id, id, 1)
      out[#out + 1] = id
      out[#out + 1] = body
      out[#out + 1] = n
      out[#out + 1] = pending[1][4]
      remaining = remaining - n
    else
      gone[#gone + 1] = id
    end
  end
  if reply[3] then
    for i = 1, #reply[3] do
      gone[#gone + 1] = reply[3][i]
    end
  end
  if #gone > 0 then
    ackAll(gone)
  end
until cursor == '0-0' or remaining <= 0
return out
