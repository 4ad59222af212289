-- Lists an admin's block of one identity in the index of blocks (the operator views read it; the
-- block itself is the identity's own key, which the limiter script checks). Drops entries whose
-- block has ended, then adds or extends this one unless the index is full.
-- KEYS[1] the index: zset identity -> end of its block (ms, Redis clock)
-- ARGV[1] identity   ARGV[2] the block's length (ms)   ARGV[3] most blocks listed at once
-- Returns {1, endMs} listed (a block already listed takes no new room), or {0, count} when full.
--- @include "includes/redisTimeMs"
local now = redisTimeMs()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  local count = redis.call('ZCARD', KEYS[1])
  if count >= tonumber(ARGV[3]) then return {0, count} end
end
local ends = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], ends, ARGV[1])
return {1, ends}
