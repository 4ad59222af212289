-- Lists live instances (expiry after the Redis time) and drops lapsed ones.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- Returns {now, id1, expiry1, json1, id2, ...}; json is false when the record is missing.
--- @include "includes/redisTimeMs"
--- @include "includes/dropLapsedInstances"
local now = redisTimeMs()
dropLapsedInstances(KEYS[1], KEYS[2], now, 1000)
local out = {now}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  table.insert(out, live[i])
  table.insert(out, live[i + 1])
  table.insert(out, redis.call('HGET', KEYS[2], live[i]))
end
return out
