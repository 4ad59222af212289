-- Registers or refreshes one instance and drops the ones whose heartbeat lapsed.
-- Times come from the Redis clock so instances with skewed clocks agree.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- ARGV[1] instance id
-- ARGV[2] time to live (ms)
-- ARGV[3] JSON record
-- Returns the Redis time (ms) of this heartbeat.
--- @include "includes/redisTimeMs"
--- @include "includes/dropLapsedInstances"
local now = redisTimeMs()
dropLapsedInstances(KEYS[1], KEYS[2], now, 100)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return now
