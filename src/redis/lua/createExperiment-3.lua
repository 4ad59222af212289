-- Creates an experiment once; creating it again with the same definition is a no-op.
-- KEYS[1] experiment definition hash (variants, weights, created; spread = '1': its counters keep
--         the sum of squares of revenue per visitor from the start)
-- KEYS[2] experiments zset: key -> created at (ms)
-- KEYS[3] live-stats dirty flag
-- ARGV[1] experiment key
-- ARGV[2] variants, JSON array (first = control)
-- ARGV[3] weights, JSON array of integers
-- ARGV[4] now (ms)
-- ARGV[5] most experiments kept
-- Returns {1, createdAt} created, {0, createdAt} already there with this definition,
-- {-1, 0} already there with another definition, {-2, 0} too many experiments.
local def = redis.call('HMGET', KEYS[1], 'variants', 'weights', 'created')
if def[1] then
  if def[1] == ARGV[2] and def[2] == ARGV[3] then return {0, tonumber(def[3])} end
  return {-1, 0}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return {-2, 0} end
redis.call('HSET', KEYS[1], 'variants', ARGV[2], 'weights', ARGV[3], 'created', ARGV[4], 'spread', '1')
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('SET', KEYS[3], '1')
return {1, tonumber(ARGV[4])}
