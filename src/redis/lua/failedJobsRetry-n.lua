-- Moves FAILED (dead-lettered) jobs back to waiting with a fresh set of attempts, as
-- BullMQ's reprocessJob does for one job (retryJob), and reserves each one's place in its
-- owner's quota in the same step: a retried job is WAITING and counted from the moment it
-- moves, never one without the other. A job that is no longer failed (a worker or another
-- admin moved it, retention removed it), is of another type than asked, or whose owner is
-- not the one named, is left alone: the answer counts exactly the jobs this call moved.
-- KEYS[1] failed zset    KEYS[2] wait list       KEYS[3] prioritized zset  KEYS[4] priority counter
-- KEYS[5] marker zset    KEYS[6] meta hash       KEYS[7] active list       KEYS[8] events stream
-- KEYS[9] owners holding quota reservations (set)
-- KEYS[9+i] (i = 1..n) job hash of job i; then, per owner, its reservations hash and its
--   reserved bytes (see jobQuotaReserve-n.lua)
-- ARGV[1] type to retry, '' for any   ARGV[2] n
-- ARGV[3i], ARGV[3i+1], ARGV[3i+2] (i = 1..n): job id, owner ('' for none), index in KEYS of
--   the owner's reservations hash (0 for none; its bytes key follows it)
-- Returns the number of jobs moved.
--- @include "includes/redisTimeMs"
local failed, wait, prioritized, counter, marker, meta, active, events = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local want, n = ARGV[1], tonumber(ARGV[2])
local now = redisTimeMs()
local maxEvents = redis.call('HGET', meta, 'opts.maxLenEvents') or 10000
local moved = 0
for i = 1, n do
  local id, owner, quota = ARGV[3 * i], ARGV[3 * i + 1], tonumber(ARGV[3 * i + 2])
  local job = KEYS[9 + i]
  if redis.call('ZSCORE', failed, id) then
    local fields = redis.call('HMGET', job, 'name', 'priority', 'data')
    local name, data = fields[1], fields[3] or ''
    local stored = string.match(data, '^{"owner":"([^"]*)"') or ''
    if name and (want == '' or name == want) and stored == owner then
      redis.call('ZREM', failed, id)
      redis.call('HDEL', job, 'finishedOn', 'processedOn', 'failedReason', 'atm', 'ats')
      local priority = tonumber(fields[2]) or 0
      if priority == 0 then
        redis.call('LPUSH', wait, id)
      else
        -- BullMQ's order within one priority: a counter in the low 32 bits.
        redis.call('ZADD', prioritized, priority * 0x100000000 + redis.call('INCR', counter) % 0x100000000, id)
      end
      redis.call('XADD', events, 'MAXLEN', '~', maxEvents, '*', 'event', 'waiting', 'jobId', id, 'prev', 'failed')
      if quota > 0 and redis.call('HEXISTS', KEYS[quota], id) == 0 then
        local size = redis.call('HSTRLEN', job, 'data')
        redis.call('HSET', KEYS[quota], id, string.format('%d:%d', size, now))
        redis.call('INCRBY', KEYS[quota + 1], size)
        redis.call('SADD', KEYS[9], owner)
      end
      moved = moved + 1
    end
  end
end
if moved > 0 then
  -- Wake a worker unless the queue is paused or at its global concurrency (BullMQ's addBaseMarkerIfNeeded).
  local m = redis.call('HMGET', meta, 'paused', 'concurrency')
  if not m[1] and not (m[2] and redis.call('LLEN', active) >= tonumber(m[2])) then redis.call('ZADD', marker, 0, '0') end
end
return moved
