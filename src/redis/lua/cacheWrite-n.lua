-- Writes one second-level cache entry, only when none of its tags was invalidated since the read
-- that missed it (cacheRead gave their generations): a result computed before an invalidation is
-- never written after it. The entry joins each tag's member list (a zset by expiry, pruned of
-- expired members here, so it holds live entries only), which expires no earlier than the entry.
-- KEYS[1] tag generations hash (tag -> counter)
-- KEYS[2] the entry
-- KEYS[3..] the tags' member zsets, in the order of the tags in ARGV
-- ARGV[1] the value (JSON)
-- ARGV[2] lifetime (ms)
-- ARGV[3..] per tag: its name, then its generation as the read saw it
-- Returns 1 when written, 0 when a tag moved on (nothing written).
for i = 3, #KEYS do
  local j = 2 * (i - 3) + 3
  if (redis.call('HGET', KEYS[1], ARGV[j]) or '0') ~= ARGV[j + 1] then return 0 end
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
if #KEYS > 2 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for i = 3, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    redis.call('ZADD', KEYS[i], now + ttl, KEYS[2])
    if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
  end
end
return 1
