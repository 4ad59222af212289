-- Moves a guest's cart into a user's cart at sign-in: quantities are added,
-- capped by stock (never below what the user already had) and by the per-line
-- limit; lines in another currency than the user's cart, lines of products that
-- are gone or sold out, and lines past the line limit are dropped. The guest cart is deleted.
-- KEYS[1] guest cart hash
-- KEYS[2] user cart hash
-- KEYS[3] catalog products hash
-- KEYS[4] catalog stock hash
-- ARGV[1] most units per line
-- ARGV[2] most lines per cart
-- ARGV[3] idle lifetime (ms)
-- Returns the number of guest lines merged.
--- @include "includes/cartCurrency"
--- @include "includes/cartLines"
local guest, user, products, stock = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local maxQty, maxLines = tonumber(ARGV[1]), tonumber(ARGV[2])
local flat = redis.call('HGETALL', guest)
if #flat == 0 then return 0 end
redis.call('DEL', guest)

local _, currency = cartCurrency(user, products)
local ids, qty = cartLines(flat)

local merged = 0
local lines = redis.call('HLEN', user)
for _, id in ipairs(ids) do
  local pjson = redis.call('HGET', products, id)
  if pjson then
    local c = cjson.decode(pjson).currency
    currency = currency or c
    local have = tonumber(redis.call('HGET', user, id) or '0')
    local available = tonumber(redis.call('HGET', stock, id) or '0')
    local target = math.min(have + tonumber(qty[id]), math.max(have, available), maxQty)
    if c == currency and target > have and (have > 0 or lines < maxLines) then
      if have == 0 then lines = lines + 1 end
      redis.call('HSET', user, id, target)
      merged = merged + 1
    end
  end
end
if redis.call('EXISTS', user) == 1 then redis.call('PEXPIRE', user, ARGV[3]) end
return merged
