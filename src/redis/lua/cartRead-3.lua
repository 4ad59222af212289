-- Reads a cart with the current product data, and slides its idle lifetime.
-- KEYS[1] cart hash (productId -> quantity)
-- KEYS[2] catalog products hash (productId -> JSON {name, priceCents, currency})
-- KEYS[3] catalog stock hash (productId -> units)
-- ARGV[1] idle lifetime (ms)
-- Returns {productId, quantity, productJson, stock, ...} sorted by product id;
--   a line whose product no longer exists is left out.
--- @include "includes/cartReply"
return cartReply(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
