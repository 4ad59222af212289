-- Validates a session and slides its idle lifetime, in one round trip.
-- KEYS[1] session hash (gw:sess:{s:<sha256(token)>})
-- ARGV[1] now (ms since epoch)
-- ARGV[2] idle lifetime (ms)
-- ARGV[3] user-agent family of this request
-- ARGV[4] "1" to revoke a session used from another user-agent family
-- ARGV[5] grace (ms) a guest's state (its cart) may outlive the session
-- ARGV[6] refresh step (ms): the idle deadline is moved only when the last move is at least this old
-- Returns {1, fields, keepUntil} (HGETALL of the session, `seen` as stored now; keepUntil is
--   "" or, for a guest whose state would expire before the session, the new deadline
--   (ms) to extend it to, already stored as `ka`),
--   {-1} unknown or expired, {-2, userId, id} revoked for a user-agent change.
-- A request without a User-Agent (family "none") is no change: many non-browser clients send one on
-- some requests and not others (Node's ws, server-side rendering). A session begun without one is
-- bound to the first family it is used from.
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return {-1} end
local s = {}
for i = 1, #h, 2 do s[h[i]] = h[i + 1] end
local now = tonumber(ARGV[1])
local exp = tonumber(s['exp'])
if now >= exp then
  redis.call('DEL', KEYS[1])
  return {-1}
end
local uaf = s['uaf'] or 'none'
if ARGV[4] == '1' and ARGV[3] ~= 'none' and uaf ~= 'none' and uaf ~= ARGV[3] then
  redis.call('DEL', KEYS[1])
  return {-2, s['uid'] or '', s['id']}
end
local ends = math.min(now + tonumber(ARGV[2]), exp)
local fields = {}
-- Sliding by less than the step buys nothing worth a write: the deadline lags at most one step.
if now - tonumber(s['seen'] or '0') >= tonumber(ARGV[6]) then
  fields[1] = 'seen'
  fields[2] = ARGV[1]
end
if uaf == 'none' and ARGV[3] ~= 'none' then
  fields[#fields + 1] = 'uaf'
  fields[#fields + 1] = ARGV[3]
end
local keepUntil = ''
if (s['uid'] or '') == '' and tonumber(s['ka'] or '0') < ends then
  -- Ahead by the grace, so the next extension is due only a grace period of activity later.
  keepUntil = string.format('%.0f', ends + tonumber(ARGV[5]))
  fields[#fields + 1] = 'ka'
  fields[#fields + 1] = keepUntil
end
if #fields == 0 then return {1, h, ''} end
if fields[1] ~= 'seen' then
  -- Another field changes: slide too, so one write carries both.
  fields[#fields + 1] = 'seen'
  fields[#fields + 1] = ARGV[1]
end
redis.call('HSET', KEYS[1], unpack(fields))
-- An absolute deadline: a relative TTL would start when the script runs, later
-- than `now`, and let the key outlive the absolute expiry by that delay.
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', ends))
for i = 1, #h, 2 do
  if h[i] == 'seen' then h[i + 1] = ARGV[1] end
end
return {1, h, keepUntil}
