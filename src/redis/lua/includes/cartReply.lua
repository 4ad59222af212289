--- @include "cartLines"
-- cartReply(cart, products, stock, ttl): what a cart read or write answers. Slides the cart's idle
-- lifetime (ttl, ms) and returns {productId, quantity, productJson, stock, ...} sorted by product
-- id, leaving out a line whose product no longer exists; {} for an empty cart.
local function cartReply(cart, products, stock, ttl)
  local flat = redis.call('HGETALL', cart)
  if #flat == 0 then return {} end
  redis.call('PEXPIRE', cart, ttl)
  local ids, qty = cartLines(flat)
  local p = redis.call('HMGET', products, unpack(ids))
  local s = redis.call('HMGET', stock, unpack(ids))
  local out = {}
  for i, id in ipairs(ids) do
    if p[i] then
      out[#out + 1] = id
      out[#out + 1] = qty[id]
      out[#out + 1] = p[i]
      out[#out + 1] = s[i] or '0'
    end
  end
  return out
end
