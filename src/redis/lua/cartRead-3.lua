-- Reads a cart with the current product data, and slides its idle lifetime.
-- KEYS[1] cart hash (productId -> quantity)
-- KEYS[2] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[3] catalog stock hash (productId -> units)
-- ARGV[1] idle lifetime (ms)
-- Returns {productId, quantity, productJson, stock, ...} sorted by product id;
--   a line whose product no longer exists is left out.
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local ids = {}
for i = 1, #flat, 2 do ids[#ids + 1] = flat[i] end
table.sort(ids)
local qty = {}
for i = 1, #flat, 2 do qty[flat[i]] = flat[i + 1] end
local products = redis.call('HMGET', KEYS[2], unpack(ids))
local stock = redis.call('HMGET', KEYS[3], unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  if products[i] then
    out[#out + 1] = id
    out[#out + 1] = qty[id]
    out[#out + 1] = products[i]
    out[#out + 1] = stock[i] or '0'
  end
end
return out
