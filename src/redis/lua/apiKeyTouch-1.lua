-- Checks an API key and records when it was last used, in the same round trip.
-- KEYS[1] the key's hash (gw:apikey:{k:<sha256(key)>}): id, name, roles, created, used
-- ARGV[1] granularity (ms): `used` is written only when the stored one is older than this, so a key
--         in steady use costs one write a granularity, not one per request
-- Returns the key's fields as HGETALL lists them (`used` as now stored), or {} when there is no such key.
--- @include "includes/redisTimeMs"
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
local now = redisTimeMs()
local used, at = 0, 0
for i = 1, #h, 2 do
  if h[i] == 'used' then
    used = tonumber(h[i + 1]) or 0
    at = i + 1
  end
end
if now - used >= tonumber(ARGV[1]) then
  local stamp = string.format('%.0f', now)
  redis.call('HSET', KEYS[1], 'used', stamp)
  if at > 0 then
    h[at] = stamp
  else
    h[#h + 1] = 'used'
    h[#h + 1] = stamp
  end
end
return h
