-- Adds to, or sets, one cart line after checking it against stock and limits,
-- then answers the whole cart: addToCart and friends are one round trip.
-- KEYS[1] cart hash (productId -> quantity)
-- KEYS[2] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[3] catalog stock hash (productId -> units)
-- ARGV[1] 'add' (quantity is added to the line) or 'set' (quantity replaces it; 0 removes it)
-- ARGV[2] product id
-- ARGV[3] quantity
-- ARGV[4] most units per line
-- ARGV[5] most lines per cart
-- ARGV[6] idle lifetime (ms)
-- ARGV[7] largest cart subtotal (cents; GraphQL's Int carries totals)
-- Returns {1, {productId, quantity, productJson, stock, ...}} (as cartRead) on success, or
--   {-1} no such product, {-2, available, inCart} not enough stock,
--   {-3, max} over the per-line limit, {-4, max} too many lines,
--   {-5, cartCurrency} the product's currency differs from the cart's,
--   {-6, max} the cart's subtotal would exceed ARGV[7].
--- @include "includes/cartCurrency"
--- @include "includes/cartReply"
local cart, products, stock = KEYS[1], KEYS[2], KEYS[3]
local mode, id = ARGV[1], ARGV[2]
local n, maxQty, maxLines = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local current = tonumber(redis.call('HGET', cart, id) or '0')
local target = n
if mode == 'add' then target = current + n end

if target <= 0 then
  redis.call('HDEL', cart, id)
else
  local pjson = redis.call('HGET', products, id)
  if not pjson then return {-1} end
  if current == 0 and redis.call('HLEN', cart) >= maxLines then return {-4, maxLines} end
  if target > maxQty then return {-3, maxQty} end
  local available = tonumber(redis.call('HGET', stock, id) or '0')
  if target > available then return {-2, available, current} end
  local held, cartCur = cartCurrency(cart, products, id)
  if held and cartCur ~= cjson.decode(pjson).currency then return {-5, cartCur} end
  local lines = redis.call('HGETALL', cart)
  local subtotal = cjson.decode(pjson).priceCents * target
  for i = 1, #lines, 2 do
    if lines[i] ~= id then
      local ojson = redis.call('HGET', products, lines[i])
      if ojson then subtotal = subtotal + cjson.decode(ojson).priceCents * tonumber(lines[i + 1]) end
    end
  end
  if subtotal > tonumber(ARGV[7]) then return {-6, tonumber(ARGV[7])} end
  redis.call('HSET', cart, id, target)
end

return {1, cartReply(cart, products, stock, ARGV[6])}
