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
local historyTtl = ARGV[4]

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

-- The views are first counted here, per key and member, then written once per key and member
-- at the end: a batch touches each counter, sorted set and HyperLogLog once, however many of its
-- views share it. Only the journeys (LPUSH) and events (PUBLISH) are written view by view.
local hashes, hashOrder = {}, {} -- key -> { ttl, fields = { field -> count }, order }
local zsets, zsetOrder = {}, {}
local hlls, hllOrder = {}, {} -- key -> { ttl, ids = { id -> true }, list }
local function add(key, ttl, member, by)
  local h = hashes[key]
  if not h then
    h = { ttl = ttl, counts = {}, order = {} }
    hashes[key] = h
    hashOrder[#hashOrder + 1] = key
  end
  if not h.counts[member] then
    h.counts[member] = 0
    h.order[#h.order + 1] = member
  end
  h.counts[member] = h.counts[member] + (by or 1)
end
local function rank(key, ttl, member)
  local z = zsets[key]
  if not z then
    z = { ttl = ttl, counts = {}, order = {} }
    zsets[key] = z
    zsetOrder[#zsetOrder + 1] = key
  end
  if not z.counts[member] then
    z.counts[member] = 0
    z.order[#z.order + 1] = member
  end
  z.counts[member] = z.counts[member] + 1
end
local function visitor(key, ttl, id)
  local h = hlls[key]
  if not h then
    h = { ttl = ttl, ids = {}, list = {} }
    hlls[key] = h
    hllOrder[#hllOrder + 1] = key
  end
  if not h.ids[id] then
    h.ids[id] = true
    h.list[#h.list + 1] = id
  end
end

-- Whether `value` is (or, within this call, became) a member of `zset`; new members past `cap`
-- are refused. Members of this call not yet written count against the cap.
local known, pending = {}, {}
local function admit(zset, value, cap)
  local k = known[zset]
  if not k then
    k = {}
    known[zset] = k
  end
  if k[value] then return true end
  if redis.call('ZSCORE', zset, value) then
    k[value] = true
    return true
  end
  if cap then
    pending[zset] = pending[zset] or redis.call('ZCARD', zset)
    if pending[zset] >= cap then return false end
    pending[zset] = pending[zset] + 1
  end
  k[value] = true
  return true
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

local journeys, journeyOrder = {}, {}
local kept = {} -- journey key -> whether this call may write it (decided once per journey)
local sequences, sequenceOrder = {}, {} -- short visitor hash -> { page ids }
for i = 0, n - 1 do
  local b = 14 + i * WIDTH
  if ARGV[b + 3] == '1' then
    add(KEYS[1], nil, 'bots')
    add(KEYS[8], historyTtl, 'bots')
    add(KEYS[9], historyTtl, 'bots')
    rank(KEYS[18], historyTtl, 'bot')
  else
    local id = ARGV[b + 1]
    local journey = KEYS[tonumber(ARGV[b + 5])]
    local keep = kept[journey]
    if keep == nil then
      keep = visitorKeyAllowed(mode, journey, KEYS[7], ARGV[10], ARGV[11])
      kept[journey] = keep
    end
    local page = ARGV[b]
    local pageUniques = KEYS[tonumber(ARGV[b + 4])]
    local dayPageUniques = KEYS[tonumber(ARGV[b + 6])]
    if not admit(KEYS[2], page, maxPages) then
      page = '(other)'
      pageUniques = KEYS[4]
      dayPageUniques = KEYS[19]
      admit(KEYS[2], page, nil)
    end
    add(KEYS[1], nil, 'views')
    rank(KEYS[2], nil, page)
    visitor(KEYS[3], nil, id)
    visitor(pageUniques, nil, id)
    add(KEYS[5], ARGV[3], '*')
    add(KEYS[5], ARGV[3], page)
    add(KEYS[8], historyTtl, '*')
    add(KEYS[9], historyTtl, 'views')
    visitor(KEYS[10], historyTtl, id)
    -- The page is already bounded by the ranking above: no cap of its own per day.
    rank(KEYS[13], historyTtl, page)
    visitor(dayPageUniques, historyTtl, id)
    for d = 2, 6 do
      local value = ARGV[b + 5 + (d - 1) * 2]
      local hll = KEYS[tonumber(ARGV[b + 6 + (d - 1) * 2])]
      -- Placeholders ("(direct)", "(none)", ...) and devices are never capped.
      if d < 6 and string.sub(value, 1, 1) ~= '(' and not admit(KEYS[12 + d], value, maxValues) then
        value = '(other)'
        hll = KEYS[18 + d]
      end
      rank(KEYS[12 + d], historyTtl, value)
      visitor(hll, historyTtl, id)
    end
    if keep then
      redis.call('LPUSH', journey, ARGV[b])
      if not journeys[journey] then
        journeys[journey] = true
        journeyOrder[#journeyOrder + 1] = journey
      end
      local field = ARGV[b + 2]
      local seq = sequences[field]
      if not seq then
        seq = {}
        sequences[field] = seq
        sequenceOrder[#sequenceOrder + 1] = field
      end
      seq[#seq + 1] = pageId(page)
    end
  end
  redis.call('PUBLISH', ARGV[8], ARGV[b + 17])
end

-- Written once per key and member. A key's lifetime is set when this call may have created it
-- (a counter or member that now equals what this call added).
for _, key in ipairs(hashOrder) do
  local h = hashes[key]
  local created = false
  for _, field in ipairs(h.order) do
    local by = h.counts[field]
    if redis.call('HINCRBY', key, field, by) == by then created = true end
  end
  if created and h.ttl then redis.call('EXPIRE', key, h.ttl) end
end
for _, key in ipairs(zsetOrder) do
  local z = zsets[key]
  local created = false
  for _, member in ipairs(z.order) do
    local by = z.counts[member]
    if tonumber(redis.call('ZINCRBY', key, by, member)) == by then created = true end
  end
  if created and z.ttl then redis.call('EXPIRE', key, z.ttl) end
end
for _, key in ipairs(hllOrder) do
  local h = hlls[key]
  if redis.call('PFADD', key, unpack(h.list)) == 1 and h.ttl then redis.call('EXPIRE', key, h.ttl) end
end
for _, journey in ipairs(journeyOrder) do
  redis.call('LTRIM', journey, 0, tonumber(ARGV[6]) - 1)
  redis.call('EXPIRE', journey, ARGV[7])
end
local seqCap = tonumber(ARGV[12])
local newSequence = false
for _, field in ipairs(sequenceOrder) do
  local old = redis.call('HGET', KEYS[11], field)
  local have = old and select(2, string.gsub(old, ',', '')) + 1 or 0
  local extra = sequences[field]
  if have < seqCap then
    local room = math.min(#extra, seqCap - have)
    local more = table.concat(extra, ',', 1, room)
    redis.call('HSET', KEYS[11], field, old and (old .. ',' .. more) or more)
    if not old then newSequence = true end
  end
end
if newSequence then redis.call('EXPIRE', KEYS[11], ARGV[5]) end
redis.call('SET', KEYS[6], '1')
return n
