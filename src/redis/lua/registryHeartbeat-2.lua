-- Registers or refreshes one instance and drops the ones whose heartbeat lapsed.
-- Times come from the Redis clock so instances with skewed clocks agree.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- ARGV[1] instance id
-- ARGV[2] time to live (ms)
-- ARGV[3] JSON record
-- Returns the Redis time (ms) of this heartbeat.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return now
