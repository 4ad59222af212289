-- Stops an experiment: from now on every viewer gets the winner (the control when none is
-- named) and nothing more is recorded for it. Stopping again with the same winner is a no-op.
-- KEYS[1] experiment definition hash (variants: JSON array; stopped: ms; winner)
-- KEYS[2] live-stats dirty flag
-- ARGV[1] winner, '' for none (the control is then served)
-- ARGV[2] now (ms)
-- Returns {1} stopped now, {0} already stopped with this winner, {-1} unknown experiment,
-- {-2} the winner is not one of its variants, {-3} already stopped with another winner.
local def = redis.call('HMGET', KEYS[1], 'variants', 'stopped', 'winner')
if not def[1] then return {-1} end
if ARGV[1] ~= '' then
  local known = false
  for _, v in ipairs(cjson.decode(def[1])) do
    if v == ARGV[1] then known = true end
  end
  if not known then return {-2} end
end
if def[2] then
  if (def[3] or '') == ARGV[1] then return {0} end
  return {-3}
end
redis.call('HSET', KEYS[1], 'stopped', ARGV[2], 'winner', ARGV[1])
redis.call('SET', KEYS[2], '1')
return {1}
