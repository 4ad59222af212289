-- Makes one owner's quota reservations match the state of the given jobs: a job
-- that is WAITING or DELAYED holds a reservation (added without the limit check:
-- the owner did not add it, e.g. a retry's backoff or an admin's retryJob), any
-- other job holds none. Run after every transition the gateway makes or sees
-- (attempts that started, in batches; an attempt that failed; a job cancelled,
-- retried, handed back or found stalled) and by the recovery sweep. It only
-- ever reads the current state, so run in any order, late or twice, it gives
-- the same result, and a reservation is dropped at most once.
-- KEYS[1] the owner's reservations (hash jobId -> "<bytes>:<reservedAtMs>")
-- KEYS[2] the owner's reserved bytes   KEYS[3] owners holding reservations (set)
-- KEYS[4] delayed zset    KEYS[5] prioritized zset   KEYS[6] wait list
-- KEYS[7] paused list     KEYS[8] active list        KEYS[9] completed zset
-- KEYS[10] failed zset    KEYS[10+i] job hash of job i (<prefix>:{jobs}:<id>)
-- ARGV[1] owner   ARGV[2] grace (ms): a reservation whose job does not exist is kept
--   while younger than this, since its add may still be on its way (0: drop it now)
-- ARGV[2+i] job id i
-- Returns {reserved, released}: reservations this call added and dropped.
--- @include "includes/redisTimeMs"
local reservations, bytes, owners = KEYS[1], KEYS[2], KEYS[3]
local grace = tonumber(ARGV[2])

local function pending(id)
  if redis.call('ZSCORE', KEYS[4], id) or redis.call('ZSCORE', KEYS[5], id) then return true end
  -- Cheap answers first: the active list is as long as the workers' concurrency.
  if redis.call('LPOS', KEYS[8], id) or redis.call('ZSCORE', KEYS[9], id) or redis.call('ZSCORE', KEYS[10], id) then return false end
  return (redis.call('LPOS', KEYS[6], id) or redis.call('LPOS', KEYS[7], id)) and true or false
end

local reserved, released = 0, 0
for i = 1, #KEYS - 10 do
  local id, job = ARGV[2 + i], KEYS[10 + i]
  local held = redis.call('HGET', reservations, id)
  local exists = redis.call('EXISTS', job) == 1
  if exists and pending(id) then
    if not held then
      local size = redis.call('HSTRLEN', job, 'data')
      redis.call('HSET', reservations, id, string.format('%d:%d', size, redisTimeMs()))
      redis.call('INCRBY', bytes, size)
      redis.call('SADD', owners, ARGV[1])
      reserved = reserved + 1
    end
  elseif held then
    local size, at = string.match(held, '^(%d+):(%d+)$')
    if exists or redisTimeMs() - tonumber(at) >= grace then
      redis.call('HDEL', reservations, id)
      redis.call('DECRBY', bytes, tonumber(size))
      released = released + 1
    end
  end
end
-- An owner holding nothing keeps no keys. (#KEYS == 10: the sweep's call for an owner it found empty.)
if (released > 0 or #KEYS == 10) and redis.call('HLEN', reservations) == 0 then
  redis.call('DEL', bytes)
  redis.call('SREM', owners, ARGV[1])
end
return {reserved, released}
