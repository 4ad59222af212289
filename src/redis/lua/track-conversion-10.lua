-- Records one conversion (count and revenue per type, minute bucket, and the viewer's
-- variant of the named experiment) and publishes it. A viewer converts once per
-- experiment; every conversion counts in events and revenue.
-- KEYS[1] totals hash (views, conversions, revenue)
-- KEYS[2] hash type -> conversions
-- KEYS[3] hash type -> revenue cents
-- KEYS[4] this minute's hash: "!c" -> conversions, "!r" -> revenue cents
-- KEYS[5] live-stats dirty flag
-- KEYS[6] the viewer's exposures hash: experiment key -> variant number ("c" appended once converted)
-- KEYS[7] named experiment's definition hash (any key of the slot when none is named)
-- KEYS[8] named experiment's counters: "<variant>:exposures|conversions|events|revenue", "!unexposed"
-- KEYS[9] named experiment's assignments from earlier releases: viewer id -> variant (read only)
-- KEYS[10] named experiment's converters from earlier releases: set of viewer ids
-- ARGV[1] conversion type
-- ARGV[2] revenue in cents (integer >= 0)
-- ARGV[3] viewer id (a field of KEYS[9] and a member of KEYS[10], never a key)
-- ARGV[4] '' no experiment, '=' the named one (ARGV[10])
-- ARGV[5] most distinct conversion types; past it new types count as "(other)"
-- ARGV[6] minute bucket TTL (seconds)
-- ARGV[7] pub/sub channel of analytics events
-- ARGV[8] the event, JSON
-- ARGV[9] lifetime of the viewer's exposures hash (ms), renewed when it changes
-- ARGV[10] the named experiment's key
-- Returns {1, variant} ("" when none or the viewer was never exposed), or {-1, ""} for an
-- unknown experiment, in which case nothing is written.
local mode = ARGV[4]
if mode == '=' and redis.call('EXISTS', KEYS[7]) == 0 then return {-1, ''} end

local value = tonumber(ARGV[2])
local ctype = ARGV[1]
if redis.call('HEXISTS', KEYS[2], ctype) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then
  ctype = '(other)'
end
redis.call('HINCRBY', KEYS[1], 'conversions', 1)
redis.call('HINCRBY', KEYS[1], 'revenue', value)
redis.call('HINCRBY', KEYS[2], ctype, 1)
redis.call('HINCRBY', KEYS[3], ctype, value)
if redis.call('HINCRBY', KEYS[4], '!c', 1) == 1 then redis.call('EXPIRE', KEYS[4], ARGV[6]) end
redis.call('HINCRBY', KEYS[4], '!r', value)

local function count(stats, variant, converts)
  redis.call('HINCRBY', stats, variant .. ':events', 1)
  redis.call('HINCRBY', stats, variant .. ':revenue', value)
  -- The rate is converting viewers over exposed viewers: a viewer converts once.
  if converts then redis.call('HINCRBY', stats, variant .. ':conversions', 1) end
end

-- Counts for the variant of one exposure record; returns the variant, or nil when the experiment is gone.
local function fromMark(exp, mark, def, stats)
  local variants = redis.call('HGET', def, 'variants')
  if not variants then return nil end
  local variant = cjson.decode(variants)[tonumber(string.match(mark, '^%d+'))]
  if not variant then return nil end
  local converts = string.sub(mark, -1) ~= 'c'
  count(stats, variant, converts)
  if converts then redis.call('HSET', KEYS[6], exp, mark .. 'c') end
  redis.call('PEXPIRE', KEYS[6], ARGV[9])
  return variant
end

local variant = ''
if mode == '=' then
  local mark = redis.call('HGET', KEYS[6], ARGV[10])
  local legacy = not mark and redis.call('HGET', KEYS[9], ARGV[3])
  if mark then
    variant = fromMark(ARGV[10], mark, KEYS[7], KEYS[8]) or ''
  elseif legacy then
    variant = legacy
    count(KEYS[8], variant, redis.call('SADD', KEYS[10], ARGV[3]) == 1)
  else
    redis.call('HINCRBY', KEYS[8], '!unexposed', 1)
  end
end
redis.call('SET', KEYS[5], '1')
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {1, variant}
