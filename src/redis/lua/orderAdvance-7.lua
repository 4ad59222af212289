-- Moves an order from one of the expected states to the next; a no-op when it
-- is elsewhere already (so a retried job changes nothing twice, and a cancelled
-- order is never moved on by its job). Moving to FAILED with release gives the
-- order's units back to stock, bumps the catalog version (dropping its cache) and
-- publishes the products' new stock in the same step. Every move is announced
-- (with the order's new status version), moves the order between the status indexes,
-- and a move to COMPLETED or FAILED appends its order.completed / order.failed domain
-- event in the same step.
-- KEYS[1] order hash
-- KEYS[2] catalog stock hash
-- KEYS[3] catalog version counter
-- KEYS[4] catalog read cache hash
-- KEYS[5] the orders domain-event stream
-- KEYS[6] pending orders zset (an order leaves it when it leaves PENDING)
-- KEYS[7] catalog products hash (for the product change message of a release)
-- ARGV[1] comma-separated states the order may be in (e.g. 'PENDING,PROCESSING')
-- ARGV[2] the state to move to
-- ARGV[3] now (ms since epoch)
-- ARGV[4] '1' to release the order's stock
-- ARGV[5] reason ('' for none)
-- ARGV[6] pub/sub channel of order events ({orderId, userId, status, v, at} as JSON)
-- ARGV[7] now as ISO-8601 (the event's occurredAt)
-- ARGV[8] the appending instance's registry id (the event's source)
-- ARGV[9] the stream's approximate MAXLEN
-- ARGV[10] prefix of the status indexes (a status appended gives its zset; same slot)
-- ARGV[11] pub/sub channel of product changes (see includes/publishProducts)
-- Returns {1, orderHashFlat} moved, {0, orderHashFlat} left as it was, {-1} no such order.
--- @include "includes/bumpCatalogVersion"
--- @include "includes/orderEvent"
--- @include "includes/publishProducts"
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-1} end
local allowed = false
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == status then allowed = true end
end
if not allowed then return {0, redis.call('HGETALL', KEYS[1])} end

redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated', ARGV[3])
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
local id = redis.call('HGET', KEYS[1], 'id')
if status == 'PENDING' then redis.call('ZREM', KEYS[6], id) end
redis.call('ZREM', ARGV[10] .. status, id)
redis.call('ZADD', ARGV[10] .. ARGV[2], redis.call('HGET', KEYS[1], 'created'), id)
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[5]) end
if ARGV[4] == '1' then
  local ids = {}
  for _, item in ipairs(cjson.decode(redis.call('HGET', KEYS[1], 'items'))) do
    redis.call('HINCRBY', KEYS[2], item.productId, item.quantity)
    ids[#ids + 1] = item.productId
  end
  bumpCatalogVersion(KEYS[3], KEYS[4])
  publishProducts(ARGV[11], KEYS[7], KEYS[2], ids)
end
local o = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do o[flat[i]] = flat[i + 1] end
publishOrderStatus(ARGV[6], o.id, o.uid, ARGV[2], version, ARGV[3])
if ARGV[2] == 'COMPLETED' or ARGV[2] == 'FAILED' then
  local kind = ARGV[2] == 'COMPLETED' and 'order.completed' or 'order.failed'
  local reason = nil
  if o.reason and o.reason ~= '' then reason = o.reason end
  appendOrderEvent(KEYS[5], ARGV[9], kind, ARGV[7], ARGV[8], {
    id = o.id, userId = o.uid, status = ARGV[2], items = cjson.decode(o.items), totalCents = tonumber(o.total), currency = o.cur, reason = reason,
  })
end
return {1, flat}
