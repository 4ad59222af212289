-- Removes one instance from the registry at shutdown, telling the instances stream (instance.left,
-- reason `shutdown`) when it was listed.
-- KEYS[1] zset: instance id -> expiry (ms)
-- KEYS[2] hash: instance id -> JSON record
-- KEYS[3] stream: instance events
-- ARGV[1] instance id
-- ARGV[2] occurredAt of the event (ISO-8601)
-- ARGV[3] event stream length to trim to (about)
-- Returns 1 when it was listed, else 0.
--- @include "includes/instanceEvent"
local record = redis.call('HGET', KEYS[2], ARGV[1])
local listed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if listed == 1 then appendInstanceEvent(KEYS[3], ARGV[3], 'instance.left', 'shutdown', ARGV[2], ARGV[1], record) end
return listed
