-- Indexes a new password reset token of a user, keeping at most ARGV[3] live ones.
-- KEYS[1] zset: token hash -> expiry (ms) (gw:user:{u:<id>}:pwresets)
-- ARGV[1] token hash, ARGV[2] its expiry (ms), ARGV[3] most live tokens per user, ARGV[4] now (ms)
-- Returns the hashes of the tokens it dropped (the oldest past the cap): the caller deletes their keys.
-- Every token lives as long, so the newest expires last: the index expires with it.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
local dropped = {}
if over > 0 then
  dropped = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return dropped
