-- Books a successful sign-in (or registration): gives back the points its attempt reserved,
-- resets the (email, address) failure count and remembers the address for the email. Runs on
-- one slot at a time: on a Cluster the email's keys and the address's key go in separate calls.
-- KEYS[i]  one key per action below
-- ARGV[1]  member: digest of the client address
-- ARGV[2]  ms a remembered address stays known after this success
-- ARGV[3]  addresses remembered per email at most (the most recent successes)
-- ARGV[4 + 2(i-1)], ARGV[5 + 2(i-1)]  per key: action, interval (ms per point; 0 when unused)
--   remember           KEYS[i] is the email's known-address set (member -> expiry ms): member is
--                      recorded, expired entries dropped, the newest ARGV[3] kept; the set expires
--                      with its last entry
--   reset              DEL: the pair's failure count starts again
--   refund             one point back (the attempt's reservation)
--   refund-if-unknown  the same, only when the set did not hold member before this success: the
--                      per-email ceiling is waived for known addresses, so nothing was reserved
-- Returns 1.
--- @include "includes/redisTimeMs"
--- @include "includes/refundPoints"
--- @include "includes/holdsUnexpired"
local now = redisTimeMs()
local member, ttl, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

local set = nil
for i = 1, #KEYS do
  if ARGV[4 + (i - 1) * 2] == 'remember' then set = KEYS[i] end
end
local known = set ~= nil and holdsUnexpired(set, member, now)

for i = 1, #KEYS do
  local action, interval = ARGV[4 + (i - 1) * 2], tonumber(ARGV[5 + (i - 1) * 2])
  if action == 'reset' then
    redis.call('DEL', KEYS[i])
  elseif action == 'refund' or (action == 'refund-if-unknown' and not known) then
    refundPoints(KEYS[i], interval, now)
  end
end

if set then
  redis.call('ZADD', set, now + ttl, member)
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  redis.call('ZREMRANGEBYRANK', set, 0, -(max + 1))
  redis.call('PEXPIRE', set, ttl)
end
return 1
