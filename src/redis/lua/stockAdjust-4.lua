-- Adds delta (may be negative) to a product's stock in one step, so it is atomic with checkouts
-- (which take stock in their own single script): a restock during a rush loses no sale, and a
-- removal never takes units that a checkout has already taken. Refused, changing nothing, when
-- the stock would go below 0 (units in PENDING or PROCESSING orders are no longer in the stock, so
-- what is on hand never goes below what is reserved) or above the largest stock. Bumps the catalog
-- version (dropping its cache) and publishes the product's new stock in the same step.
-- KEYS[1] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[2] catalog stock hash (productId -> units)
-- KEYS[3] catalog version counter
-- KEYS[4] catalog read cache hash
-- ARGV[1] product id
-- ARGV[2] delta (a whole number)
-- ARGV[3] the largest stock
-- ARGV[4] pub/sub channel of product changes (see includes/publishProducts)
-- Returns {1, productJson, newStock}; {-1} no such product; {-2, stock} below 0; {-3, stock} above ARGV[3].
--- @include "includes/bumpCatalogVersion"
--- @include "includes/publishProducts"
local json = redis.call('HGET', KEYS[1], ARGV[1])
if not json then return {-1} end
local stock = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local after = stock + tonumber(ARGV[2])
if after < 0 then return {-2, stock} end
if after > tonumber(ARGV[3]) then return {-3, stock} end
redis.call('HSET', KEYS[2], ARGV[1], after)
bumpCatalogVersion(KEYS[3], KEYS[4])
publishProducts(ARGV[4], KEYS[1], KEYS[2], {ARGV[1]})
return {1, json, after}
