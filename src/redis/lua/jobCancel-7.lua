-- Removes a job only while it is waiting or delayed. BullMQ's own remove also
-- deletes completed and failed jobs, so "check the state, then remove" would let
-- a job that finished in between be removed and reported as cancelled.
-- Removes the same keys as BullMQ's removeJobKeys and emits its 'removed' event.
-- KEYS[1] job hash           (<prefix>:{jobs}:<id>)
-- KEYS[2] delayed zset       KEYS[3] prioritized zset  KEYS[4] wait list
-- KEYS[5] paused list        KEYS[6] meta hash         KEYS[7] events stream
-- ARGV[1] job id
-- Returns 1 removed, 0 exists but is not waiting or delayed, -1 no such job.
local jobKey, id = KEYS[1], ARGV[1]
if redis.call('EXISTS', jobKey) == 0 then return -1 end
local prev
if redis.call('ZREM', KEYS[2], id) == 1 then prev = 'delayed'
elseif redis.call('ZREM', KEYS[3], id) == 1 then prev = 'prioritized'
elseif redis.call('LREM', KEYS[4], 1, id) == 1 then prev = 'wait'
elseif redis.call('LREM', KEYS[5], 1, id) == 1 then prev = 'paused'
else return 0 end
redis.call('DEL', jobKey, jobKey .. ':logs', jobKey .. ':dependencies', jobKey .. ':processed', jobKey .. ':failed', jobKey .. ':unsuccessful')
local maxEvents = redis.call('HGET', KEYS[6], 'opts.maxLenEvents') or 10000
redis.call('XADD', KEYS[7], 'MAXLEN', '~', maxEvents, '*', 'event', 'removed', 'jobId', id, 'prev', prev)
return 1
