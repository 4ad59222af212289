-- Lists live instances (expiry after the Redis time) and drops lapsed ones.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- Returns {now, id1, expiry1, json1, id2, ...}; json is false when the record is missing.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
local out = {now}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  table.insert(out, live[i])
  table.insert(out, live[i + 1])
  table.insert(out, redis.call('HGET', KEYS[2], live[i]))
end
return out
