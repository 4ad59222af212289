-- Gives a viewer their variant of an experiment and records their exposure once.
-- The variant comes from the viewer's exposure record, else from an assignment stored
-- by an earlier release (read, never written), else from the keyed point the caller
-- computed (HMAC of experiment and viewer) against the weights. A viewer with no
-- exposure record yet costs the caller one key of its daily budget; past it the variant
-- is still answered but nothing is recorded.
-- KEYS[1] experiment definition hash (variants, weights: JSON arrays)
-- KEYS[2] counters hash: "<variant>:exposures"
-- KEYS[3] live-stats dirty flag
-- KEYS[4] the viewer's exposures hash: experiment key -> variant number ("c" and revenue so far
--         appended once converted, see trackConversion)
-- KEYS[5] earlier releases' assignments of this experiment: viewer id -> variant
-- KEYS[6] earlier releases' converters of this experiment: set of viewer ids
-- KEYS[7] the caller's counter of visitor keys created today
-- ARGV[1] experiment key
-- ARGV[2] the viewer's point, an integer in [0, 2^32)
-- ARGV[3] viewer id (a field of KEYS[5], never a key)
-- ARGV[4] lifetime of the viewer's exposures hash (ms), renewed at every use
-- ARGV[5] budget mode: 'exempt', 'enforce' or 'ask'
-- ARGV[6] visitor keys allowed per day
-- ARGV[7] TTL of the caller's counter (seconds)
-- Returns {1, variant} exposure recorded now, {0, variant} recorded before, {2, variant}
-- not recorded (budget spent), {3, ""} budget spent in 'ask' mode (nothing changed),
-- {4, variant} the experiment is stopped: its winner (else the control), nothing recorded,
-- {-1, ""} unknown experiment.
--- @include "includes/visitorKeyAllowed"
local def = redis.call('HMGET', KEYS[1], 'variants', 'weights', 'stopped', 'winner')
if not def[1] then return {-1, ''} end
local variants = cjson.decode(def[1])
if def[3] then
  if def[4] and def[4] ~= '' then return {4, def[4]} end
  return {4, variants[1]}
end
local mark = redis.call('HGET', KEYS[4], ARGV[1])
if mark then
  redis.call('PEXPIRE', KEYS[4], ARGV[4])
  return {0, variants[tonumber(string.match(mark, '^%d+'))]}
end

local legacy = redis.call('HGET', KEYS[5], ARGV[3])
local index = nil
if legacy then
  for i = 1, #variants do
    if variants[i] == legacy then index = i end
  end
  if not index then return {0, legacy} end
else
  local weights = cjson.decode(def[2])
  local total = 0
  for i = 1, #weights do total = total + weights[i] end
  local point = tonumber(ARGV[2]) / 4294967296 * total
  index = #variants
  local upTo = 0
  for i = 1, #weights do
    upTo = upTo + weights[i]
    if point < upTo then
      index = i
      break
    end
  end
end
local chosen = variants[index]

if not visitorKeyAllowed(ARGV[5], KEYS[4], KEYS[7], ARGV[6], ARGV[7]) then
  if legacy then return {0, chosen} end
  if ARGV[5] == 'ask' then return {3, ''} end
  return {2, chosen}
end
local converted = ''
if legacy and redis.call('SISMEMBER', KEYS[6], ARGV[3]) == 1 then converted = 'c' end
redis.call('HSET', KEYS[4], ARGV[1], index .. converted)
redis.call('PEXPIRE', KEYS[4], ARGV[4])
if legacy then return {0, chosen} end
redis.call('HINCRBY', KEYS[2], chosen .. ':exposures', 1)
redis.call('SET', KEYS[3], '1')
return {1, chosen}
