-- Deletes FAILED (dead-lettered) jobs, only while they are still failed: a job a worker or an
-- admin moved meanwhile is left alone, so the answer counts exactly the jobs deleted.
-- Removes the same keys as BullMQ's removeJobKeys and emits its 'removed' event (as jobCancel-7.lua).
-- KEYS[1] failed zset   KEYS[2] meta hash   KEYS[3] events stream
-- KEYS[3+i] (i = 1..n) job hash of job i
-- ARGV[1] type to delete, '' for any   ARGV[1+i] job id i
-- Returns the number of jobs deleted.
local failed, meta, events, want = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local maxEvents = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
local removed = 0
for i = 1, #KEYS - 3 do
  local id, job = ARGV[1 + i], KEYS[3 + i]
  if redis.call('ZSCORE', failed, id) then
    local name = redis.call('HGET', job, 'name')
    if want == '' or name == want then
      redis.call('ZREM', failed, id)
      redis.call('DEL', job, job .. ':logs', job .. ':dependencies', job .. ':processed', job .. ':failed', job .. ':unsuccessful')
      redis.call('XADD', events, 'MAXLEN', '~', maxEvents, '*', 'event', 'removed', 'jobId', id, 'prev', 'failed')
      removed = removed + 1
    end
  end
end
return removed
