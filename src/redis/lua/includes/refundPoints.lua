-- refundPoints(key, ms, now): gives back `ms` (points times their interval) of a GCRA key's
-- theoretical arrival time; the key goes when nothing of it is left ahead of now (ms).
local function refundPoints(key, ms, now)
  local tat = tonumber(redis.call('GET', key) or '0')
  local back = tat - ms
  if back > now then
    redis.call('SET', key, string.format('%.3f', back), 'PX', math.ceil(back - now))
  elseif tat > 0 then
    redis.call('DEL', key)
  end
end
