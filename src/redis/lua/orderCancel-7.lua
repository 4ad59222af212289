-- Cancels an order for its owner or an admin while it is PENDING or PROCESSING: in one step the
-- order becomes CANCELLED, its units go back to stock (once: a second cancel finds it CANCELLED
-- and changes nothing), it leaves the pending set and moves between the status indexes, the catalog
-- version is bumped (its cache dropped), the products' new stock and the order's new status are
-- published and an order.cancelled domain event is appended. The order's job, if it runs on, meets
-- a CANCELLED order that orderAdvance will not move.
-- KEYS[1] order hash
-- KEYS[2] catalog stock hash
-- KEYS[3] catalog version counter
-- KEYS[4] catalog read cache hash
-- KEYS[5] the orders domain-event stream
-- KEYS[6] pending orders zset
-- KEYS[7] catalog products hash (for the product change message)
-- ARGV[1] the caller's user id
-- ARGV[2] '1' when the caller is an admin (may cancel anyone's order)
-- ARGV[3] now (ms since epoch)
-- ARGV[4] pub/sub channel of order events ({orderId, userId, status, v, at} as JSON)
-- ARGV[5] now as ISO-8601 (the event's occurredAt)
-- ARGV[6] the appending instance's registry id (the event's source)
-- ARGV[7] the stream's approximate MAXLEN
-- ARGV[8] prefix of the status indexes (a status appended gives its zset; same slot)
-- ARGV[9] pub/sub channel of product changes (see includes/publishProducts)
-- Returns {1, orderHashFlat} cancelled now, {0, orderHashFlat} it was CANCELLED already,
--   {-1} no such order or not the caller's (the same answer), {-3, status} it is past cancelling.
--- @include "includes/bumpCatalogVersion"
--- @include "includes/orderEvent"
--- @include "includes/publishProducts"
local o = {}
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {-1} end
for i = 1, #flat, 2 do o[flat[i]] = flat[i + 1] end
if o.uid ~= ARGV[1] and ARGV[2] ~= '1' then return {-1} end
if o.status == 'CANCELLED' then return {0, flat} end
if o.status ~= 'PENDING' and o.status ~= 'PROCESSING' then return {-3, o.status} end

redis.call('HSET', KEYS[1], 'status', 'CANCELLED', 'updated', ARGV[3])
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('ZREM', KEYS[6], o.id)
redis.call('ZREM', ARGV[8] .. o.status, o.id)
redis.call('ZADD', ARGV[8] .. 'CANCELLED', o.created, o.id)
local items = cjson.decode(o.items)
local ids = {}
for _, item in ipairs(items) do
  redis.call('HINCRBY', KEYS[2], item.productId, item.quantity)
  ids[#ids + 1] = item.productId
end
bumpCatalogVersion(KEYS[3], KEYS[4])
publishProducts(ARGV[9], KEYS[7], KEYS[2], ids)
publishOrderStatus(ARGV[4], o.id, o.uid, 'CANCELLED', version, ARGV[3])
appendOrderEvent(KEYS[5], ARGV[7], 'order.cancelled', ARGV[5], ARGV[6], {
  id = o.id, userId = o.uid, status = 'CANCELLED', items = items, totalCents = tonumber(o.total), currency = o.cur, reason = nil,
})
return {1, redis.call('HGETALL', KEYS[1])}
