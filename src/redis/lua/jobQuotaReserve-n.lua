-- Reserves room in one owner's job quota for new jobs, all or nothing, before they
-- are added to BullMQ (whose own add scripts cannot check a quota). A reservation
-- lives while its job is WAITING or DELAYED; jobQuotaSettle drops it when the
-- job leaves those states. The check and the reservation are one step, so
-- parallel enqueues on any number of instances never pass the limit together.
-- KEYS[1]    the owner's reservations: hash jobId -> "<bytes>:<reservedAtMs>"
-- KEYS[2]    the owner's reserved bytes (string counter, the sum of those bytes)
-- KEYS[3]    owners holding reservations (set, walked by the recovery sweep)
-- KEYS[4]    the owner's jobs (zset jobId -> enqueue time in µs, the newest kept; `myJobs` reads it)
-- KEYS[4+j]  job hash (<prefix>:{jobs}:<id>) of each item whose id was given
-- ARGV[1] most jobs, ARGV[2] most bytes (-1: no check, for the service's own jobs)
-- ARGV[3] owner (member of KEYS[3])
-- ARGV[4] most entries kept in KEYS[4], ARGV[5] its lifetime (ms) after the owner's last enqueue
-- ARGV[3+3i] job id of item i, ARGV[4+3i] its data's size in bytes as stored,
-- ARGV[5+3i] the index in KEYS of its job hash when its id was given (an idempotency
--   key, an internal caller's id), else 0: a fresh random id cannot exist yet
-- A given id whose job exists, or is already reserved, or an item repeating an
-- earlier item's id is an idempotent re-enqueue: BullMQ adds nothing for it, so it
-- takes no room (and is listed in KEYS[4] already).
-- Returns {1, id...}: the ids reserved now;
--   or {0, quota, limit, used, requested}, quota 'pending' or 'pendingBytes': nothing reserved.
--- @include "includes/redisTimeMs"
local n = (#ARGV - 5) / 3
local ids, sizes, seen = {}, {}, {}
local addBytes = 0
for i = 1, n do
  local id, size, key = ARGV[3 + 3 * i], tonumber(ARGV[4 + 3 * i]), tonumber(ARGV[5 + 3 * i])
  if not seen[id] and not (key > 0 and (redis.call('EXISTS', KEYS[key]) == 1 or redis.call('HEXISTS', KEYS[1], id) == 1)) then
    ids[#ids + 1] = id
    sizes[#sizes + 1] = size
    addBytes = addBytes + size
  end
  seen[id] = true
end
if #ids == 0 then return {1} end

local maxJobs, maxBytes = tonumber(ARGV[1]), tonumber(ARGV[2])
local used = redis.call('HLEN', KEYS[1])
if maxJobs >= 0 then
  if used + #ids > maxJobs then return {0, 'pending', maxJobs, used, #ids} end
  local usedBytes = tonumber(redis.call('GET', KEYS[2]) or '0')
  if usedBytes + addBytes > maxBytes then return {0, 'pendingBytes', maxBytes, usedBytes, addBytes} end
end

local now = redisTimeMs()
local fields = {}
for i = 1, #ids do
  fields[#fields + 1] = ids[i]
  fields[#fields + 1] = string.format('%d:%d', sizes[i], now)
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('INCRBY', KEYS[2], addBytes)
local owned = {}
for i = 1, #ids do
  -- In microseconds, the batch's order kept within one millisecond: newest first reads it back.
  owned[#owned + 1] = string.format('%d', now * 1000 + i)
  owned[#owned + 1] = ids[i]
end
redis.call('ZADD', KEYS[4], 'NX', unpack(owned))
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -1 - tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[4], ARGV[5])
-- An owner with reservations is always in the set: added with its first, removed with its last.
if used == 0 then redis.call('SADD', KEYS[3], ARGV[3]) end
return {1, unpack(ids)}
