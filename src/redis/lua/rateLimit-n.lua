-- Charges every rate-limit policy of one request at once, all or nothing (GCRA), or gives points
-- back. Each key holds the policy's theoretical arrival time (TAT, ms since epoch): the moment its
-- bucket would be full again. Redis's own clock is used so that every gateway instance sees one time.
-- KEYS[1..n]      one key per (policy, partition), e.g. gw:rl:{ip:1.2.3.4}:default
-- KEYS[n+1..n+b]  the caller's block keys (gw:rl:{<identity>}:block:until, set by blockClient with
--                 the block's lifetime): while any exists the request is refused and nothing is charged
-- KEYS[n+b+1..]   sorted sets that waivers name (a sign-in email's known addresses: member -> expiry ms)
-- ARGV[1]  "charge" or "refund" (gives points back after another slot refused)
-- ARGV[2]  b, the number of block keys (read in "charge" mode only)
-- ARGV[3 ..] 7 values per key of the n (so n = (#ARGV - 2) / 7), as includes/chargeRequest.lua says
-- Returns chargeRequest's reply ({1} for a refund). Many requests at once: rateLimitBatch-n.lua.
--- @include "includes/redisTimeMs"
--- @include "includes/refundPoints"
--- @include "includes/chargeRequest"
local now = redisTimeMs()
local n = (#ARGV - 2) / 7

if ARGV[1] == 'refund' then
  for i = 1, n do
    local a = 3 + (i - 1) * 7
    local set = tonumber(ARGV[a + 4])
    -- A waived key was not charged: nothing to give back.
    if not (set ~= 0 and holdsUnexpired(KEYS[set], ARGV[a + 5], now)) then
      refundPoints(KEYS[i], tonumber(ARGV[a]) * tonumber(ARGV[a + 1]), now)
    end
  end
  return {1}
end

return chargeRequest(0, 2, n, tonumber(ARGV[2]), now)
