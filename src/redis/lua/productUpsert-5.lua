-- Creates or replaces a product and sets its stock; bumps the catalog version
-- and drops the read cache in the same step, so no instance serves the old data, and publishes
-- the product as it is now to productUpdated subscribers.
-- KEYS[1] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[2] catalog stock hash (productId -> units)
-- KEYS[3] catalog ids zset (all scores 0: ordered by id)
-- KEYS[4] catalog version counter
-- KEYS[5] catalog read cache hash
-- ARGV[1] product id
-- ARGV[2] product JSON
-- ARGV[3] stock
-- ARGV[4] pub/sub channel of product changes (see includes/publishProducts)
-- Returns 1 when the product is new, 0 when it was replaced.
--- @include "includes/bumpCatalogVersion"
--- @include "includes/publishProducts"
local created = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
bumpCatalogVersion(KEYS[4], KEYS[5])
publishProducts(ARGV[4], KEYS[1], KEYS[2], {ARGV[1]})
return created
