-- publishProducts(channel, products, stock, ids): tells productUpdated subscribers on every instance
-- the state of these products after the change, from the script that made it (so no change goes
-- untold): one message {products = [{id, name, priceCents, currency, stock}, ...]} as JSON for the
-- whole change; ids of products that do not exist are left out.
local function publishProducts(channel, products, stock, ids)
  if #ids == 0 then return end
  local p = redis.call('HMGET', products, unpack(ids))
  local s = redis.call('HMGET', stock, unpack(ids))
  local out = {}
  for i, id in ipairs(ids) do
    if p[i] then
      local product = cjson.decode(p[i])
      out[#out + 1] = {id = id, name = product.name, priceCents = product.priceCents, currency = product.currency, stock = tonumber(s[i] or '0')}
    end
  end
  if #out > 0 then redis.call('PUBLISH', channel, cjson.encode({products = out})) end
end
