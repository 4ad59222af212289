-- visitorKeyAllowed(mode, visitorKey, counter, allowed, ttl): whether this call may create the
-- visitor key `visitorKey` (a journey, an exposure record) under its caller's daily budget.
-- True without a charge in 'exempt' mode or when the key exists already; else true and one
-- counted in `counter` (which lives ttl seconds) while fewer than `allowed` were created today,
-- false past it. The caller decides what a refusal means ('ask' mode: nothing written).
local function visitorKeyAllowed(mode, visitorKey, counter, allowed, ttl)
  if mode == 'exempt' or redis.call('EXISTS', visitorKey) == 1 then return true end
  if tonumber(redis.call('GET', counter) or '0') >= tonumber(allowed) then return false end
  if redis.call('INCR', counter) == 1 then redis.call('EXPIRE', counter, ttl) end
  return true
end
