-- Turns a cart into an order in one atomic step: every line is checked against
-- stock, then either all stock is decremented, the order written (names and
-- prices as of now), the cart emptied, the order announced, the catalog version bumped (its cache
-- dropped), the recommendation scores counted, the order filed in the admins' order indexes, the
-- products' new stock published to productUpdated subscribers and an order.placed domain event
-- appended to the orders stream (in this script, so no sale can happen without its event), or
-- nothing changes.
-- KEYS[1] cart hash (productId -> quantity)
-- KEYS[2] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[3] catalog stock hash (productId -> units)
-- KEYS[4] catalog version counter
-- KEYS[5] catalog read cache hash
-- KEYS[6] the user's orders zset (orderId by created ms)
-- KEYS[7] the user's idempotency keys hash (sha256(key) -> orderId)
-- KEYS[8] best sellers zset (productId by units sold)
-- KEYS[9] the new order's hash
-- KEYS[10] the orders domain-event stream
-- KEYS[11] pending orders zset (orderId by created ms), for the recovery sweep
-- KEYS[12] every order zset (orderId by created ms), for admins' `orders`
-- KEYS[13] PENDING orders index zset (orderId by created ms; the order scripts move it by status)
-- ARGV[1] new order id
-- ARGV[2] user id
-- ARGV[3] now (ms since epoch)
-- ARGV[4] sha256 of the idempotency key, or '' for none
-- ARGV[5] order key prefix (an order id appended gives its hash; same slot)
-- ARGV[6] bought-together key prefix (a product id appended gives its zset; same slot)
-- ARGV[7] pub/sub channel of order events ({orderId, userId, status} as JSON), so the
--   announcement costs no round trip of its own
-- ARGV[8] now as ISO-8601 (the event's occurredAt)
-- ARGV[9] the appending instance's registry id (the event's source)
-- ARGV[10] the stream's approximate MAXLEN
-- ARGV[11] largest order total (cents; GraphQL's Int carries it)
-- ARGV[12] pub/sub channel of product changes (see includes/publishProducts)
-- Returns {1, orderHashFlat} created, {2, orderHashFlat} the order this idempotency key already made,
--   {-1} empty cart, {-2, {productId, requested, available}, ...} short lines (nothing changed),
--   {-5} the cart mixes currencies, {-6} the total would exceed ARGV[11] (prices rose since).
--- @include "includes/cartLines"
--- @include "includes/bumpCatalogVersion"
--- @include "includes/orderEvent"
--- @include "includes/publishProducts"
local cart, products, stock = KEYS[1], KEYS[2], KEYS[3]
local idem = ARGV[4]

if idem ~= '' then
  local existing = redis.call('HGET', KEYS[7], idem)
  if existing then
    local o = redis.call('HGETALL', ARGV[5] .. existing)
    if #o > 0 then return {2, o} end
  end
end

local flat = redis.call('HGETALL', cart)
if #flat == 0 then return {-1} end
local ids, qty = cartLines(flat)
for _, id in ipairs(ids) do qty[id] = tonumber(qty[id]) end
local p = redis.call('HMGET', products, unpack(ids))
local s = redis.call('HMGET', stock, unpack(ids))

local short, items, currency, total = {}, {}, nil, 0
for i, id in ipairs(ids) do
  local available = tonumber(s[i] or '0')
  if not p[i] then available = 0 end
  if qty[id] > available then
    short[#short + 1] = {id, qty[id], available}
  else
    local product = cjson.decode(p[i])
    if currency and product.currency ~= currency then return {-5} end
    currency = product.currency
    items[#items + 1] = {productId = id, name = product.name, unitPriceCents = product.priceCents, quantity = qty[id]}
    total = total + product.priceCents * qty[id]
  end
end
if total > tonumber(ARGV[11]) then return {-6} end
if #short > 0 then
  local out = {-2}
  for _, line in ipairs(short) do out[#out + 1] = line end
  return out
end

for _, id in ipairs(ids) do
  redis.call('HINCRBY', stock, id, -qty[id])
  redis.call('ZINCRBY', KEYS[8], qty[id], id)
  for _, other in ipairs(ids) do
    if other ~= id then redis.call('ZINCRBY', ARGV[6] .. id, 1, other) end
  end
end
redis.call('DEL', cart)

bumpCatalogVersion(KEYS[4], KEYS[5])

local order = {
  'id', ARGV[1], 'uid', ARGV[2], 'status', 'PENDING', 'items', cjson.encode(items),
  'total', string.format('%d', total), 'cur', currency, 'created', ARGV[3], 'updated', ARGV[3], 'v', '1',
}
redis.call('HSET', KEYS[9], unpack(order))
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[11], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[12], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[13], ARGV[3], ARGV[1])
if idem ~= '' then redis.call('HSET', KEYS[7], idem, ARGV[1]) end
publishOrderStatus(ARGV[7], ARGV[1], ARGV[2], 'PENDING', 1, ARGV[3])
publishProducts(ARGV[12], products, stock, ids)
appendOrderEvent(KEYS[10], ARGV[10], 'order.placed', ARGV[8], ARGV[9], {
  id = ARGV[1], userId = ARGV[2], status = 'PENDING', items = items, totalCents = total, currency = currency,
})
return {1, order}
