-- dropLapsedInstances(alive, info, now, limit): removes up to `limit` instances whose expiry in
-- the zset `alive` is not after now (ms), with their record in the hash `info`.
local function dropLapsedInstances(alive, info, now, limit)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', now, 'LIMIT', 0, limit)) do
    redis.call('ZREM', alive, id)
    redis.call('HDEL', info, id)
  end
end
