-- cartLines(flat): a cart hash's HGETALL reply as its product ids, sorted (the order every
-- reply and every checkout walks them in), and productId -> quantity as stored (a string).
local function cartLines(flat)
  local ids, qty = {}, {}
  for i = 1, #flat, 2 do
    ids[#ids + 1] = flat[i]
    qty[flat[i]] = flat[i + 1]
  end
  table.sort(ids)
  return ids, qty
end
