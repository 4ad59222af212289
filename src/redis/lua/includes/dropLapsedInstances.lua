--- @include "instanceEvent"
-- dropLapsedInstances(alive, info, now, limit, stream, maxLen, occurredAt, source): removes up to
-- `limit` instances whose expiry in the zset `alive` is not after now (ms), with their record in
-- the hash `info`, appending instance.left (reason `lapsed`) for each to `stream`.
local function dropLapsedInstances(alive, info, now, limit, stream, maxLen, occurredAt, source)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', now, 'LIMIT', 0, limit)) do
    appendInstanceEvent(stream, maxLen, 'instance.left', 'lapsed', occurredAt, source, redis.call('HGET', info, id))
    redis.call('ZREM', alive, id)
    redis.call('HDEL', info, id)
  end
end
