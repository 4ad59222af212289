-- Validates a session and slides its idle lifetime, in one round trip.
-- KEYS[1] session hash (gw:sess:{s:<sha256(token)>})
-- ARGV[1] now (ms since epoch)
-- ARGV[2] idle lifetime (ms)
-- ARGV[3] user-agent family of this request
-- ARGV[4] "1" to revoke a session used from another user-agent family
-- A request without a User-Agent (family "none") is no change: many non-browser clients send one on
-- some requests and not others (Node's ws, server-side rendering). A session begun without one is
-- bound to the first family it is used from.
-- Returns {1, fields...} (HGETALL of the session, lastSeenAt updated),
--   {-1} unknown or expired, {-2, userId, id} revoked for a user-agent change.
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
if uaf == 'none' and ARGV[3] ~= 'none' then
  redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'uaf', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'seen', ARGV[1])
end
-- An absolute deadline: a relative TTL would start when the script runs, later
-- than `now`, and let the key outlive the absolute expiry by that delay.
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.min(now + tonumber(ARGV[2]), exp)))
for i = 1, #h, 2 do
  if h[i] == 'seen' then h[i + 1] = ARGV[1] end
end
return {1, h}
