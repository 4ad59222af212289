-- How an order change is told, from the script that makes it (so no change goes untold).
-- publishOrderStatus(channel, orderId, userId, status, version, at): the pub/sub announcement
--   ({orderId, userId, status, v, at} as JSON) that order subscriptions receive; `v` is the order's
--   status version (1 at checkout, one more at each change: a subscriber drops what its snapshot
--   already shows), `at` the change's time (ms), the order's `updated`.
-- appendOrderEvent(stream, maxLen, kind, occurredAt, source, order): the domain event `kind`
--   (order.placed, order.completed, order.failed, order.cancelled) appended to the orders stream, trimmed to about
--   maxLen; order = {id, userId, status, items (the order's lines), totalCents, currency, reason
--   (nil for none)}.
local function publishOrderStatus(channel, orderId, userId, status, version, at)
  redis.call('PUBLISH', channel, cjson.encode({orderId = orderId, userId = userId, status = status, v = tonumber(version), at = tonumber(at)}))
end

local function appendOrderEvent(stream, maxLen, kind, occurredAt, source, order)
  local lines = {}
  for i, item in ipairs(order.items) do
    lines[i] = {productId = item.productId, quantity = item.quantity, unitPriceCents = item.unitPriceCents}
  end
  local event = {
    id = kind .. ':' .. order.id, type = kind, version = 1, occurredAt = occurredAt, source = source,
    data = {orderId = order.id, userId = order.userId, status = order.status, items = lines, totalCents = order.totalCents, currency = order.currency, reason = order.reason or cjson.null},
  }
  redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', 'type', kind, 'event', cjson.encode(event))
end
