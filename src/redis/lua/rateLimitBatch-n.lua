-- Charges many requests' rate-limit keys in one call, each all or nothing and in order, exactly as
-- that many rateLimit-n.lua calls one after the other would (includes/chargeRequest.lua), at one
-- Redis clock reading. One instance gathers the requests that reach the limiter in the same turn
-- of its event loop; on a Cluster, only requests whose keys share one slot go together.
-- KEYS     each request's keys in turn: charged, block keys, waiver sets (as rateLimit-n.lua)
-- ARGV[1]  m, the number of requests
-- then per request: n (charged keys), b (block keys), k (all its keys), then 7 values per charged key
-- Returns, per request in turn: the length of its reply, then chargeRequest's reply.
--- @include "includes/redisTimeMs"
--- @include "includes/chargeRequest"
local now = redisTimeMs()
local out = {}
local kb, ab = 0, 1
for _ = 1, tonumber(ARGV[1]) do
  local n, b, k = tonumber(ARGV[ab + 1]), tonumber(ARGV[ab + 2]), tonumber(ARGV[ab + 3])
  local reply = chargeRequest(kb, ab + 3, n, b, now)
  out[#out + 1] = #reply
  for _, v in ipairs(reply) do out[#out + 1] = v end
  kb = kb + k
  ab = ab + 3 + 7 * n
end
return out
