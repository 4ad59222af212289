-- redisTimeMs(): the Redis clock in ms since the epoch: one clock for every gateway instance.
local function redisTimeMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
