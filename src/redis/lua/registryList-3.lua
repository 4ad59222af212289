-- Lists live instances (expiry after the Redis time) and drops lapsed ones, telling the
-- instances stream of each.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- KEYS[3] stream: instance events
-- ARGV[1] occurredAt of events (ISO-8601)
-- ARGV[2] event stream length to trim to (about)
-- ARGV[3] source of events: the listing instance's id
-- Returns {now, id1, expiry1, json1, id2, ...}; json is false when the record is missing.
--- @include "includes/redisTimeMs"
--- @include "includes/dropLapsedInstances"
local now = redisTimeMs()
dropLapsedInstances(KEYS[1], KEYS[2], now, 1000, KEYS[3], ARGV[2], ARGV[1], ARGV[3])
local out = {now}
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
for i = 1, #live, 2 do
  table.insert(out, live[i])
  table.insert(out, live[i + 1])
  table.insert(out, redis.call('HGET', KEYS[2], live[i]))
end
return out
