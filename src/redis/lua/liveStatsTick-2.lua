-- Decides whether this instance publishes liveStats now: only when something
-- changed since the last publication and no instance has published within the
-- period. The lock lives in Redis, so the limit holds across every instance.
-- KEYS[1] dirty flag (set by every analytics write)
-- KEYS[2] lock
-- ARGV[1] period (ms)
-- ARGV[2] this instance's id (for CLIENT/KEYS inspection only)
-- Returns 0, or when the caller must compute and publish the aggregate, the Redis time
-- (ms) of this decision: the aggregate's `at`, one clock for every instance, and at least
-- a period after the previous one because the lock was still held until then.
--- @include "includes/redisTimeMs"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[1]) then return 0 end
-- Cleared before the aggregate is read, so a write during the read is published next time.
redis.call('DEL', KEYS[1])
return redisTimeMs()
