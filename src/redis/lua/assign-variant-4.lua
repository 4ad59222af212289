-- Gives a viewer their variant of an experiment: the stored one, else one chosen
-- by a hash of (experiment, viewer) against the weights, recorded with one exposure.
-- KEYS[1] experiment definition hash (variants, weights: JSON arrays)
-- KEYS[2] assignments hash: visitor -> variant
-- KEYS[3] counters hash: "<variant>:exposures"
-- KEYS[4] live-stats dirty flag
-- ARGV[1] visitor id
-- ARGV[2] experiment key
-- Returns {1, variant} on a first exposure, {0, variant} when already assigned,
-- {-1, ""} for an unknown experiment.
local def = redis.call('HMGET', KEYS[1], 'variants', 'weights')
if not def[1] then return {-1, ''} end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return {0, existing} end
local variants = cjson.decode(def[1])
local weights = cjson.decode(def[2])
local total = 0
for i = 1, #weights do total = total + weights[i] end
-- 32 bits of SHA-1 give a uniform point in [0, total); the same viewer always lands on it.
local point = tonumber(string.sub(redis.sha1hex(ARGV[2] .. ':' .. ARGV[1]), 1, 8), 16) / 4294967296 * total
local chosen = variants[#variants]
local upTo = 0
for i = 1, #weights do
  upTo = upTo + weights[i]
  if point < upTo then
    chosen = variants[i]
    break
  end
end
redis.call('HSET', KEYS[2], ARGV[1], chosen)
redis.call('HINCRBY', KEYS[3], chosen .. ':exposures', 1)
redis.call('SET', KEYS[4], '1')
return {1, chosen}
