-- Records one page view in one round trip and publishes it to live subscribers.
-- A visitor without a journey yet costs the caller one key of its daily budget; past
-- it the view is counted everywhere but no journey is started.
-- KEYS[1] totals hash (views, conversions, revenue)
-- KEYS[2] pages zset: page -> views (count and ranking in one)
-- KEYS[3] HyperLogLog of all visitors
-- KEYS[4] HyperLogLog of this page's visitors
-- KEYS[5] HyperLogLog of the "(other)" page's visitors
-- KEYS[6] this minute's hash: "*" -> views, page -> views
-- KEYS[7] the visitor's journey list, newest first (named by the keyed hash of the visitor id)
-- KEYS[8] live-stats dirty flag
-- KEYS[9] the caller's counter of visitor keys created today
-- ARGV[1] page path
-- ARGV[2] visitor id
-- ARGV[3] most distinct pages to rank one by one; past it new pages count as "(other)"
-- ARGV[4] minute bucket TTL (seconds)
-- ARGV[5] journey length cap
-- ARGV[6] journey TTL (seconds)
-- ARGV[7] pub/sub channel of analytics events
-- ARGV[8] the event, JSON, as graphql-redis-subscriptions subscribers parse it
-- ARGV[9] budget mode: 'exempt', 'enforce' or 'ask'
-- ARGV[10] visitor keys allowed per day
-- ARGV[11] TTL of the caller's counter (seconds)
-- Returns 1 when the page was counted under its own name, 0 when under "(other)", or
-- -1 when the budget is spent in 'ask' mode, in which case nothing is written.
--- @include "includes/visitorKeyAllowed"
local journey = visitorKeyAllowed(ARGV[9], KEYS[7], KEYS[9], ARGV[10], ARGV[11])
if not journey and ARGV[9] == 'ask' then return -1 end
local page = ARGV[1]
local pageUniques = KEYS[4]
local own = 1
if not redis.call('ZSCORE', KEYS[2], page) and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  page = '(other)'
  pageUniques = KEYS[5]
  own = 0
end
redis.call('HINCRBY', KEYS[1], 'views', 1)
redis.call('ZINCRBY', KEYS[2], 1, page)
redis.call('PFADD', KEYS[3], ARGV[2])
redis.call('PFADD', pageUniques, ARGV[2])
if redis.call('HINCRBY', KEYS[6], '*', 1) == 1 then redis.call('EXPIRE', KEYS[6], ARGV[4]) end
redis.call('HINCRBY', KEYS[6], page, 1)
if journey then
  redis.call('LPUSH', KEYS[7], ARGV[1])
  redis.call('LTRIM', KEYS[7], 0, tonumber(ARGV[5]) - 1)
  redis.call('EXPIRE', KEYS[7], ARGV[6])
end
redis.call('SET', KEYS[8], '1')
redis.call('PUBLISH', ARGV[7], ARGV[8])
return own
