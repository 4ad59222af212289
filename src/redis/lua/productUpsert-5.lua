-- Creates or replaces products and sets their stock; bumps the catalog version
-- and drops the read cache in the same step, so no instance serves the old data, and publishes
-- the products as they are now to productUpdated subscribers.
-- KEYS[1] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[2] catalog stock hash (productId -> units)
-- KEYS[3] catalog ids zset (all scores 0: ordered by id)
-- KEYS[4] catalog version counter
-- KEYS[5] catalog read cache hash
-- ARGV[1] 'put' (create or replace) or 'seed' (only when the catalog holds no product at all)
-- ARGV[2] pub/sub channel of product changes (see includes/publishProducts)
-- ARGV[3..] triples: product id, product JSON, stock
-- Returns how many of the products are new; -1 when 'seed' found a product already there.
--- @include "includes/bumpCatalogVersion"
--- @include "includes/publishProducts"
if ARGV[1] == 'seed' and redis.call('ZCARD', KEYS[3]) > 0 then return -1 end
local created = 0
local ids = {}
for i = 3, #ARGV, 3 do
  created = created + redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
  redis.call('ZADD', KEYS[3], 0, ARGV[i])
  ids[#ids + 1] = ARGV[i]
end
bumpCatalogVersion(KEYS[4], KEYS[5])
publishProducts(ARGV[2], KEYS[1], KEYS[2], ids)
return created
