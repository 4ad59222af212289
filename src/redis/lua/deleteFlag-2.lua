-- Deletes a feature flag and announces it to every instance, under the next version.
-- KEYS[1] flags hash: flag key -> JSON definition
-- KEYS[2] version counter of flag changes
-- ARGV[1] flag key
-- ARGV[2] pub/sub channel of flag changes
-- Returns the version of the deletion, or 0 when there was no such flag (nothing changed).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local version = redis.call('INCR', KEYS[2])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({ key = ARGV[1], version = version, deleted = true }))
return version
