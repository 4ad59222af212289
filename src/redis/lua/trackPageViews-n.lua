-- Records 1 to 100 page views in one round trip: the live counters (totals, ranking, uniques,
-- minute bucket, journey), the hourly and daily rollups (per dimension: views and a HyperLogLog
-- of visitors per value; the day's visit sequences for funnels), and one event per view.
-- Bots (decided by the caller from the User-Agent) are counted apart: their views only add to
-- the `bots` counters and to the `bot` device, and no visitor of theirs is counted anywhere.
-- A visitor without a journey yet costs the caller one key of its daily budget; past it the
-- view is counted everywhere but no journey is started and no funnel sequence is kept.
-- KEYS[1] totals hash (views, bots, conversions, revenue)
-- KEYS[2] pages zset: page -> views (count and ranking in one)
-- KEYS[3] HyperLogLog of all visitors
-- KEYS[4] HyperLogLog of the "(other)" page's visitors
-- KEYS[5] this minute's hash: "*" -> views, page -> views
-- KEYS[6] live-stats dirty flag
-- KEYS[7] the caller's counter of visitor keys created today
-- KEYS[8] this hour's hash: "*" -> views, bots -> bot views
-- KEYS[9] today's totals hash: views, bots
-- KEYS[10] HyperLogLog of today's visitors
-- KEYS[11] today's funnel sequences: short visitor hash -> page ids, comma-separated, in order
-- KEYS[12] page -> id hash ("#": the last id given)
-- KEYS[13] to KEYS[18] today's value -> views zsets: page, referrer, UTM source, UTM campaign, browser, device
-- KEYS[19] to KEYS[24] today's HyperLogLogs of "(other)" in the same dimensions
-- KEYS[25] and on: per-view keys (a page's HyperLogLog, a journey, a value's HyperLogLog of today), named by index below
-- ARGV[1] most distinct pages ranked one by one; past it new pages count as "(other)"
-- ARGV[2] most distinct values per dimension per day (referrer, UTM source, UTM campaign, browser)
-- ARGV[3] minute bucket TTL (seconds)
-- ARGV[4] hour and day keys' TTL (seconds)
-- ARGV[5] funnel sequences' TTL (seconds)
-- ARGV[6] journey length cap
-- ARGV[7] journey TTL (seconds)
-- ARGV[8] pub/sub channel of analytics events
-- ARGV[9] budget mode: 'exempt', 'enforce' or 'ask'
-- ARGV[10] visitor keys allowed per day
-- ARGV[11] TTL of the caller's counter (seconds)
-- ARGV[12] most page ids kept per visitor per day in its funnel sequence
-- ARGV[13] number of views, then 18 values per view:
--   page, visitor id, short visitor hash, bot ('1' or '0'), index of the page's HyperLogLog,
--   index of the journey, index of today's page-value HyperLogLog, then referrer, source,
--   campaign, browser and device, each value followed by the index of its HyperLogLog of today,
--   then the event (JSON, as graphql-redis-subscriptions subscribers parse it)
-- Values in parentheses ("(direct)", "(none)", "(unknown)") are always counted under their name.
-- Returns how many views were recorded, or -1 when a new journey was needed, the budget is
-- spent and the mode is 'ask', in which case nothing is written.
--- @include "includes/visitorKeyAllowed"
local maxPages = tonumber(ARGV[1])
local maxValues = tonumber(ARGV[2])
local n = tonumber(ARGV[13])
local WIDTH = 18
local mode = ARGV[9]

-- 'ask': change nothing unless every new journey of the batch fits in the budget.
if mode == 'ask' then
  local needed, seen = 0, {}
  for i = 0, n - 1 do
    local b = 14 + i * WIDTH
    local journey = KEYS[tonumber(ARGV[b + 5])]
    if ARGV[b + 3] == '0' and not seen[journey] then
      seen[journey] = true
      if redis.call('EXISTS', journey) == 0 then needed = needed + 1 end
    end
  end
  if needed > 0 and tonumber(redis.call('GET', KEYS[7]) or '0') + needed > tonumber(ARGV[10]) then return -1 end
end

local expired = {}
-- A key's lifetime is set once per call, and only when this write may have created it.
local function lifetime(key, ttl, created)
  if created and not expired[key] then
    expired[key] = true
    redis.call('EXPIRE', key, ttl)
  end
end
local function count(hash, field, ttl)
  lifetime(hash, ttl, redis.call('HINCRBY', hash, field, 1) == 1)
end
local function visitor(hll, id, ttl)
  lifetime(hll, ttl, redis.call('PFADD', hll, id) == 1)
end
-- One view of `value` in a day's dimension `d` (1 page ... 6 device), capped unless placeholder or `capped` false.
local function dimension(d, value, hll, id, capped)
  local zset = KEYS[12 + d]
  if capped and string.sub(value, 1, 1) ~= '(' and not redis.call('ZSCORE', zset, value) and redis.call('ZCARD', zset) >= maxValues then
    value = '(other)'
    hll = KEYS[18 + d]
  end
  lifetime(zset, ARGV[4], tonumber(redis.call('ZINCRBY', zset, 1, value)) == 1)
  if id then visitor(hll, id, ARGV[4]) end
end

local ids = {}
local function pageId(page)
  local id = ids[page] or redis.call('HGET', KEYS[12], page)
  if not id then
    id = tostring(redis.call('HINCRBY', KEYS[12], '#', 1))
    redis.call('HSET', KEYS[12], page, id)
  end
  ids[page] = id
  return id
end

local seqCap = tonumber(ARGV[12])
for i = 0, n - 1 do
  local b = 14 + i * WIDTH
  if ARGV[b + 3] == '1' then
    redis.call('HINCRBY', KEYS[1], 'bots', 1)
    count(KEYS[8], 'bots', ARGV[4])
    count(KEYS[9], 'bots', ARGV[4])
    dimension(6, 'bot', nil, nil, false)
  else
    local id = ARGV[b + 1]
    local journey = KEYS[tonumber(ARGV[b + 5])]
    local keep = visitorKeyAllowed(mode, journey, KEYS[7], ARGV[10], ARGV[11])
    local page = ARGV[b]
    local pageUniques = KEYS[tonumber(ARGV[b + 4])]
    local dayPageUniques = KEYS[tonumber(ARGV[b + 6])]
    if not redis.call('ZSCORE', KEYS[2], page) and redis.call('ZCARD', KEYS[2]) >= maxPages then
      page = '(other)'
      pageUniques = KEYS[4]
      dayPageUniques = KEYS[19]
    end
    redis.call('HINCRBY', KEYS[1], 'views', 1)
    redis.call('ZINCRBY', KEYS[2], 1, page)
    redis.call('PFADD', KEYS[3], id)
    redis.call('PFADD', pageUniques, id)
    count(KEYS[5], '*', ARGV[3])
    redis.call('HINCRBY', KEYS[5], page, 1)
    count(KEYS[8], '*', ARGV[4])
    count(KEYS[9], 'views', ARGV[4])
    visitor(KEYS[10], id, ARGV[4])
    -- The page is already bounded by the ranking above: no cap of its own per day.
    dimension(1, page, dayPageUniques, id, false)
    for d = 2, 5 do
      dimension(d, ARGV[b + 5 + (d - 1) * 2], KEYS[tonumber(ARGV[b + 6 + (d - 1) * 2])], id, true)
    end
    dimension(6, ARGV[b + 15], KEYS[tonumber(ARGV[b + 16])], id, false)
    if keep then
      redis.call('LPUSH', journey, ARGV[b])
      redis.call('LTRIM', journey, 0, tonumber(ARGV[6]) - 1)
      redis.call('EXPIRE', journey, ARGV[7])
      local field = ARGV[b + 2]
      local seq = redis.call('HGET', KEYS[11], field)
      if not seq then
        redis.call('HSET', KEYS[11], field, pageId(page))
        lifetime(KEYS[11], ARGV[5], true)
      elseif select(2, string.gsub(seq, ',', '')) + 1 < seqCap then
        redis.call('HSET', KEYS[11], field, seq .. ',' .. pageId(page))
      end
    end
  end
  redis.call('PUBLISH', ARGV[8], ARGV[b + 17])
end
redis.call('SET', KEYS[6], '1')
return n
