-- cartCurrency(cart, products, except): a cart's currency, that of its first line (in HKEYS order)
-- whose product still exists, skipping product `except` (nil: none). Returns true and that
-- currency, or false when no line has a product. A cart holds one currency: a line in another
-- is refused or dropped.
local function cartCurrency(cart, products, except)
  for _, id in ipairs(redis.call('HKEYS', cart)) do
    if id ~= except then
      local pjson = redis.call('HGET', products, id)
      if pjson then return true, cjson.decode(pjson).currency end
    end
  end
  return false, nil
end
