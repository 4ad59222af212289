-- Registers or refreshes one instance and drops the ones whose heartbeat lapsed, telling the
-- instances stream of each instance that joins (first heartbeat, or again after lapsing) or lapses.
-- Times come from the Redis clock so instances with skewed clocks agree.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- KEYS[3] stream: instance events
-- ARGV[1] instance id
-- ARGV[2] time to live (ms)
-- ARGV[3] JSON record
-- ARGV[4] occurredAt of events (ISO-8601)
-- ARGV[5] event stream length to trim to (about)
-- Returns the Redis time (ms) of this heartbeat.
--- @include "includes/redisTimeMs"
--- @include "includes/dropLapsedInstances"
--- @include "includes/instanceEvent"
local now = redisTimeMs()
dropLapsedInstances(KEYS[1], KEYS[2], now, 100, KEYS[3], ARGV[5], ARGV[4], ARGV[1])
local joined = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) == 1
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
if joined then appendInstanceEvent(KEYS[3], ARGV[5], 'instance.joined', 'registered', ARGV[4], ARGV[1], ARGV[3]) end
return now
