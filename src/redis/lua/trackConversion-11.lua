-- Records one conversion (count and revenue per type, minute bucket, and the viewer's
-- experiment variants) and publishes it. Attribution is to the named experiment, or to
-- every experiment the viewer was exposed to (an order completing). A viewer converts
-- once per experiment; every conversion counts in events and revenue, and in the sum of squares
-- of revenue per viewer (the spread behind the revenue-per-visitor test), which needs each
-- viewer's revenue so far: kept in their exposure record.
-- KEYS[1] totals hash (views, conversions, revenue)
-- KEYS[2] hash type -> conversions
-- KEYS[3] hash type -> revenue cents
-- KEYS[4] this minute's hash: "!c" -> conversions, "!r" -> revenue cents
-- KEYS[5] live-stats dirty flag
-- KEYS[6] the viewer's exposures hash: experiment key -> variant number, then "c" once converted,
--         then the viewer's revenue in that experiment so far (cents, when any): "2", "2c", "2c4500"
-- KEYS[7] once-marker: with ARGV[10] set, nothing is recorded when it exists already
-- KEYS[8] named experiment's definition hash (any key of the slot when none is named)
-- KEYS[9] named experiment's counters: "<variant>:exposures|conversions|events|revenue|revenueSq", "!unexposed"
-- KEYS[10] named experiment's assignments from earlier releases: viewer id -> variant (read only)
-- KEYS[11] named experiment's converters from earlier releases: set of viewer ids
-- ARGV[1] conversion type
-- ARGV[2] revenue in cents (integer >= 0)
-- ARGV[3] viewer id (a field of KEYS[10] and a member of KEYS[11], never a key)
-- ARGV[4] '' no experiment, '=' the named one (ARGV[12]), '*' every one in KEYS[6]
-- ARGV[5] most distinct conversion types; past it new types count as "(other)"
-- ARGV[6] minute bucket TTL (seconds)
-- ARGV[7] pub/sub channel of analytics events
-- ARGV[8] the event, JSON
-- ARGV[9] lifetime of the viewer's exposures hash (ms), renewed when it changes
-- ARGV[10] lifetime of the once-marker (ms), or '' for none
-- ARGV[11] prefix the experiment keys of KEYS[6] are appended to (then ':def' / ':stats')
-- ARGV[12] the named experiment's key
-- Returns {1, variant} ("" when none or the viewer was never exposed), {0, ""} when the
-- once-marker existed, or {-1, ""} for an unknown experiment; in the last two nothing is written.
local mode = ARGV[4]
if mode == '=' and redis.call('EXISTS', KEYS[8]) == 0 then return {-1, ''} end
if ARGV[10] ~= '' and not redis.call('SET', KEYS[7], '1', 'NX', 'PX', ARGV[10]) then return {0, ''} end

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

-- `before`: the viewer's revenue in this experiment before this conversion.
local function count(stats, variant, converts, before)
  redis.call('HINCRBY', stats, variant .. ':events', 1)
  redis.call('HINCRBY', stats, variant .. ':revenue', value)
  -- The rate is converting viewers over exposed viewers: a viewer converts once.
  if converts then redis.call('HINCRBY', stats, variant .. ':conversions', 1) end
  -- The viewer's square grows from before^2 to (before + value)^2. A float: squares of cents
  -- outgrow 64-bit integers, and the test needs no more than double precision.
  if value > 0 then
    redis.call('HINCRBYFLOAT', stats, variant .. ':revenueSq', string.format('%.17g', value * (2 * before + value)))
  end
end

-- Counts for the variant of one exposure record; returns the variant, or nil when the experiment
-- is gone or stopped (a stopped experiment's results stay as they were at the stop).
local function fromMark(exp, mark, def, stats)
  local d = redis.call('HMGET', def, 'variants', 'stopped')
  local variants = d[1]
  if not variants or d[2] then return nil end
  local index, converted, before = string.match(mark, '^(%d+)(c?)(%d*)$')
  local variant = index and cjson.decode(variants)[tonumber(index)]
  if not variant then return nil end
  before = tonumber(before) or 0
  count(stats, variant, converted == '', before)
  if converted == '' or value > 0 then
    local total = before + value
    redis.call('HSET', KEYS[6], exp, index .. 'c' .. (total > 0 and string.format('%.0f', total) or ''))
  end
  redis.call('PEXPIRE', KEYS[6], ARGV[9])
  return variant
end

local variant = ''
if mode == '=' then
  local mark = redis.call('HGET', KEYS[6], ARGV[12])
  local legacy = not mark and redis.call('HGET', KEYS[10], ARGV[3])
  if mark then
    variant = fromMark(ARGV[12], mark, KEYS[8], KEYS[9]) or ''
  elseif legacy and redis.call('HEXISTS', KEYS[8], 'stopped') == 1 then
    variant = ''
  elseif legacy then
    variant = legacy
    -- No record of the viewer's revenue so far: these experiments predate the spread (no revenue test).
    count(KEYS[9], variant, redis.call('SADD', KEYS[11], ARGV[3]) == 1, 0)
  elseif redis.call('HEXISTS', KEYS[8], 'stopped') == 0 then
    redis.call('HINCRBY', KEYS[9], '!unexposed', 1)
  end
elseif mode == '*' then
  local marks = redis.call('HGETALL', KEYS[6])
  for i = 1, #marks, 2 do
    fromMark(marks[i], marks[i + 1], ARGV[11] .. marks[i] .. ':def', ARGV[11] .. marks[i] .. ':stats')
  end
end
redis.call('SET', KEYS[5], '1')
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {1, variant}
