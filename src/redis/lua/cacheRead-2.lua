-- Reads one second-level cache entry (services/cache/result-cache.ts), or, on a miss, where its
-- tags' generations stand, for the write that may follow (cacheWrite).
-- KEYS[1] the entry (gw:cache:{cache}:<space>:<sha256>)
-- KEYS[2] tag generations hash (tag -> counter)
-- ARGV[1..] the entry's tags
-- Returns {json, pttl} on a hit; {false, generation of ARGV[1], generation of ARGV[2], ...} on a
-- miss ('0' for a tag never invalidated).
local value = redis.call('GET', KEYS[1])
if value then return {value, redis.call('PTTL', KEYS[1])} end
local out = {false}
if #ARGV > 0 then
  local gens = redis.call('HMGET', KEYS[2], unpack(ARGV))
  for i = 1, #ARGV do out[i + 1] = gens[i] or '0' end
end
return out
