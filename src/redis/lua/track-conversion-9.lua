-- Records one conversion (count and revenue per type, minute bucket, and the
-- viewer's experiment variant when one is named) and publishes it.
-- KEYS[1] totals hash (views, conversions, revenue)
-- KEYS[2] hash type -> conversions
-- KEYS[3] hash type -> revenue cents
-- KEYS[4] this minute's hash: "!c" -> conversions, "!r" -> revenue cents
-- KEYS[5] live-stats dirty flag
-- KEYS[6] experiment definition hash (any key of the slot when none is named)
-- KEYS[7] experiment assignments: visitor -> variant
-- KEYS[8] experiment converters: set of visitors
-- KEYS[9] experiment counters: "<variant>:exposures|conversions|events|revenue", "!unexposed"
-- ARGV[1] conversion type
-- ARGV[2] value in cents (integer >= 0)
-- ARGV[3] visitor id
-- ARGV[4] "1" when an experiment is named
-- ARGV[5] most distinct conversion types; past it new types count as "(other)"
-- ARGV[6] minute bucket TTL (seconds)
-- ARGV[7] pub/sub channel of analytics events
-- ARGV[8] the event, JSON
-- Returns {1, variant} ("" when none or the viewer was never exposed), or {-1, ""} for an
-- unknown experiment, in which case nothing is written.
local named = ARGV[4] == '1'
local variant = ''
if named then
  if redis.call('EXISTS', KEYS[6]) == 0 then return {-1, ''} end
  variant = redis.call('HGET', KEYS[7], ARGV[3]) or ''
end
local ctype = ARGV[1]
if redis.call('HEXISTS', KEYS[2], ctype) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then
  ctype = '(other)'
end
local value = tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], 'conversions', 1)
redis.call('HINCRBY', KEYS[1], 'revenue', value)
redis.call('HINCRBY', KEYS[2], ctype, 1)
redis.call('HINCRBY', KEYS[3], ctype, value)
if redis.call('HINCRBY', KEYS[4], '!c', 1) == 1 then redis.call('EXPIRE', KEYS[4], ARGV[6]) end
redis.call('HINCRBY', KEYS[4], '!r', value)
if named then
  if variant ~= '' then
    redis.call('HINCRBY', KEYS[9], variant .. ':events', 1)
    redis.call('HINCRBY', KEYS[9], variant .. ':revenue', value)
    -- The rate is converting viewers over exposed viewers: a viewer converts once.
    if redis.call('SADD', KEYS[8], ARGV[3]) == 1 then redis.call('HINCRBY', KEYS[9], variant .. ':conversions', 1) end
  else
    redis.call('HINCRBY', KEYS[9], '!unexposed', 1)
  end
end
redis.call('SET', KEYS[5], '1')
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {1, variant}
