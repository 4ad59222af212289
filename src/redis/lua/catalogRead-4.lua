-- Serves a catalog read from the read cache, building and caching it on a miss. Entries are always
-- current: every write that changes what they show drops the cache in the same script
-- (includes/bumpCatalogVersion). Called on a miss of the gateway's shared cache only: a hit there
-- costs no round trip (services/commerce/catalog.service.ts).
-- KEYS[1] catalog read cache hash (entry -> JSON)
-- KEYS[2] catalog ids zset (all scores 0: ordered by id)
-- KEYS[3] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[4] catalog stock hash (productId -> units)
-- ARGV[1] cache entry name ('list:<offset>:<limit>' or 'p:<id>')
-- ARGV[2] 'list' or 'one'
-- ARGV[3] list: offset; one: product id
-- ARGV[4] list: limit
-- Returns the entry's JSON: an array of products for 'list', a product or null for 'one'.
local hit = redis.call('HGET', KEYS[1], ARGV[1])
if hit then return hit end

local function render(id, pjson, units)
  return '{"id":' .. cjson.encode(id) .. ',"stock":' .. (units or '0') .. ',' .. string.sub(pjson, 2)
end

local json
if ARGV[2] == 'list' then
  local offset = tonumber(ARGV[3])
  local ids = redis.call('ZRANGE', KEYS[2], offset, offset + tonumber(ARGV[4]) - 1)
  local parts = {}
  if #ids > 0 then
    local p = redis.call('HMGET', KEYS[3], unpack(ids))
    local s = redis.call('HMGET', KEYS[4], unpack(ids))
    for i, id in ipairs(ids) do
      if p[i] then parts[#parts + 1] = render(id, p[i], s[i]) end
    end
  end
  json = '[' .. table.concat(parts, ',') .. ']'
else
  local pjson = redis.call('HGET', KEYS[3], ARGV[3])
  json = pjson and render(ARGV[3], pjson, redis.call('HGET', KEYS[4], ARGV[3])) or 'null'
end
-- Misses are not kept and the cache stops growing at 1000 entries, so lookups of
-- made-up ids or pages cannot fill memory between two writes.
if json ~= 'null' and redis.call('HLEN', KEYS[1]) < 1000 then redis.call('HSET', KEYS[1], ARGV[1], json) end
return json
