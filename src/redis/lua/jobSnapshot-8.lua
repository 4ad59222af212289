-- Reads a job and its state in one atomic step, so a snapshot never pairs the
-- fields of one moment with the state of another (BullMQ's getJob + getState
-- are two round trips).
-- KEYS[1] job hash           (<prefix>:{jobs}:<id>)
-- KEYS[2] completed zset     KEYS[3] failed zset      KEYS[4] delayed zset
-- KEYS[5] prioritized zset   KEYS[6] active list      KEYS[7] wait list
-- KEYS[8] paused list
-- ARGV[1] job id
-- Returns false when the job does not exist, else {state, HGETALL fields...}
--   with state one of completed, failed, delayed, prioritized, active, waiting, unknown.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return false end
local id = ARGV[1]
local state = 'unknown'
if redis.call('ZSCORE', KEYS[2], id) then state = 'completed'
elseif redis.call('ZSCORE', KEYS[3], id) then state = 'failed'
elseif redis.call('ZSCORE', KEYS[4], id) then state = 'delayed'
elseif redis.call('ZSCORE', KEYS[5], id) then state = 'prioritized'
elseif redis.call('LPOS', KEYS[6], id) then state = 'active'
elseif redis.call('LPOS', KEYS[7], id) or redis.call('LPOS', KEYS[8], id) then state = 'waiting'
end
table.insert(h, 1, state)
return h
