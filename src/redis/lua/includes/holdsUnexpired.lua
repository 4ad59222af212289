-- holdsUnexpired(set, member, now): whether a zset of member -> expiry (ms), such as a sign-in
-- email's known addresses, holds member with its expiry still ahead of now.
local function holdsUnexpired(set, member, now)
  local expiry = redis.call('ZSCORE', set, member)
  return expiry ~= false and expiry ~= nil and tonumber(expiry) > now
end
