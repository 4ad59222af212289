-- A product's recommendations: the products most often bought with it, then
-- best sellers, then the catalog in id order; never the product itself, never
-- one out of stock. Each source is scanned at most 500 entries deep.
-- KEYS[1] bought-together zset of the product (otherId by orders together)
-- KEYS[2] best sellers zset (productId by units sold)
-- KEYS[3] catalog ids zset (all scores 0: ordered by id)
-- KEYS[4] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[5] catalog stock hash (productId -> units)
-- ARGV[1] product id
-- ARGV[2] how many
-- Returns {productId, productJson, stock, ...}.
local limit = tonumber(ARGV[2])
local out, seen, found = {}, {[ARGV[1]] = true}, 0

local function consider(id)
  if seen[id] then return end
  seen[id] = true
  local units = tonumber(redis.call('HGET', KEYS[5], id) or '0')
  if units <= 0 then return end
  local pjson = redis.call('HGET', KEYS[4], id)
  if not pjson then return end
  out[#out + 1] = id
  out[#out + 1] = pjson
  out[#out + 1] = units
  found = found + 1
end

local function scan(key, reverse)
  local start = 0
  while found < limit and start < 500 do
    local page
    if reverse then
      page = redis.call('ZREVRANGE', key, start, start + 49)
    else
      page = redis.call('ZRANGE', key, start, start + 49)
    end
    if #page == 0 then return end
    for _, id in ipairs(page) do
      if found >= limit then return end
      consider(id)
    end
    start = start + 50
  end
end

scan(KEYS[1], true)
scan(KEYS[2], true)
scan(KEYS[3], false)
return out
