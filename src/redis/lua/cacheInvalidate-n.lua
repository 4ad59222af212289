-- Invalidates cache tags everywhere in one step: every second-level entry holding one is deleted,
-- each tag's generation moves on (so a write whose read came before this is refused, see
-- cacheWrite) and the invalidation is published to every instance's in-process cache.
-- KEYS[1] tag generations hash (tag -> counter)
-- KEYS[2..] the tags' member zsets (entry key -> expiry ms), in the order of the tags in ARGV
-- ARGV[1] pub/sub channel of cache invalidations ('' publishes nothing)
-- ARGV[2] the message, JSON {tags = [...]}, as graphql-redis-subscriptions sends one
-- ARGV[3..] the tags
-- Returns how many entries were deleted.
local deleted = 0
for i = 2, #KEYS do
  redis.call('HINCRBY', KEYS[1], ARGV[i + 1], 1)
  local members = redis.call('ZRANGE', KEYS[i], 0, -1)
  for _, key in ipairs(members) do deleted = deleted + redis.call('DEL', key) end
  redis.call('DEL', KEYS[i])
end
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return deleted
