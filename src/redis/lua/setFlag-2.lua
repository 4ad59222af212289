-- Creates or changes a feature flag and announces the change to every instance. Each change
-- takes the next version, so instances can merge messages and re-reads in any order.
-- KEYS[1] flags hash: flag key -> JSON {key, enabled, rolloutPercent, version, updatedAt}
-- KEYS[2] version counter of flag changes
-- ARGV[1] flag key (checked by the caller: letters, digits, _ . -)
-- ARGV[2] enabled: '1' or '0'
-- ARGV[3] rollout percent 0 to 100, or '' to keep the flag's own (100 for a new flag)
-- ARGV[4] most flags that may exist
-- ARGV[5] now (ms)
-- ARGV[6] pub/sub channel of flag changes
-- Returns {1, definition JSON}, or {-1, number of flags} when the flag is new and ARGV[4] flags
-- exist already (nothing changed).
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  local count = redis.call('HLEN', KEYS[1])
  if count >= tonumber(ARGV[4]) then return {-1, count} end
end
local rollout = tonumber(ARGV[3])
if not rollout then
  rollout = 100
  if current then rollout = cjson.decode(current).rolloutPercent end
end
local version = redis.call('INCR', KEYS[2])
local def = cjson.encode({
  key = ARGV[1],
  enabled = ARGV[2] == '1',
  rolloutPercent = rollout,
  version = version,
  updatedAt = tonumber(ARGV[5]),
})
redis.call('HSET', KEYS[1], ARGV[1], def)
redis.call('PUBLISH', ARGV[6], def)
return {1, def}
