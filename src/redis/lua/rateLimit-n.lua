-- Charges every rate-limit policy of one request at once, all or nothing (GCRA).
-- Each key holds the policy's theoretical arrival time (TAT, ms since epoch): the
-- moment its bucket would be full again. Redis's own clock is used so that every
-- gateway instance sees one time.
-- KEYS[1..n]      one key per (policy, partition), e.g. gw:rl:{ip:1.2.3.4}:default
-- KEYS[n+1..n+b]  the caller's block keys (gw:rl:{<identity>}:block:until, set by blockClient with
--                 the block's lifetime): while any exists the request is refused and nothing is charged
-- KEYS[n+b+1..]   sorted sets that waivers name (a sign-in email's known addresses: member -> expiry ms)
-- ARGV[1]  "charge" or "refund" (gives points back after another slot refused)
-- ARGV[2]  b, the number of block keys (read in "charge" mode only)
-- ARGV[3 + 6(i-1) ...] per key i of the n, 6 values (so n = (#ARGV - 2) / 6):
--   cost      points to charge (0 only reads the state)
--   interval  ms per point (window / points)
--   capacity  burst * interval (ms)
--   oversize  "1": a cost above the burst passes when the bucket is full
--   waiver    0, or the index in KEYS of a set: when that set holds `member` with an expiry
--   member    still ahead, this key is waived (neither charged nor refunded; its state is reported)
-- Returns {allowed (1 or 0), blockedMs, then per key: remaining, resetMs, retryMs}
--   blockedMs  0, or the longest time left of a block: then allowed is 0 and no state follows
--   remaining  whole points left (after this charge when allowed)
--   resetMs    ms until the bucket is full again
--   retryMs    ms until this charge would pass (0 when it passes)
-- Nothing is written unless every key passes.
--- @include "includes/redisTimeMs"
--- @include "includes/refundPoints"
--- @include "includes/holdsUnexpired"
local now = redisTimeMs()
-- Stored TATs are rounded to 1 us; this tolerance keeps N * (window / N) == window.
local eps = 0.01
local n = (#ARGV - 2) / 6

local function waived(b)
  local set = tonumber(ARGV[b + 4])
  return set ~= 0 and holdsUnexpired(KEYS[set], ARGV[b + 5], now)
end

if ARGV[1] == 'refund' then
  for i = 1, n do
    local b = 3 + (i - 1) * 6
    -- A waived key was not charged: nothing to give back.
    if not waived(b) then refundPoints(KEYS[i], tonumber(ARGV[b]) * tonumber(ARGV[b + 1]), now) end
  end
  return {1}
end

-- A blocked caller is refused before anything is counted.
local blocked = 0
for k = n + 1, n + tonumber(ARGV[2]) do
  local left = redis.call('PTTL', KEYS[k])
  if left > blocked then blocked = left end
end
if blocked > 0 then return {0, blocked} end

local out = {1, 0}
local writes = {}
local costs = {}
for i = 1, n do
  local b = 3 + (i - 1) * 6
  local cost = tonumber(ARGV[b])
  if cost > 0 and waived(b) then cost = 0 end
  costs[i] = cost
  local interval = tonumber(ARGV[b + 1])
  local capacity = tonumber(ARGV[b + 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local newTat = tat + cost * interval
  local fits = newTat - now <= capacity + eps
  local oversize = cost * interval > capacity + eps
  if not fits and oversize and ARGV[b + 3] == '1' and tat - now <= eps then fits = true end
  local used, retry = tat, 0
  if cost > 0 and fits then
    used = newTat
    writes[#writes + 1] = {KEYS[i], newTat}
  elseif cost > 0 then
    out[1] = 0
    if oversize then retry = tat - now else retry = newTat - capacity - now end
    retry = math.max(1, math.ceil(retry - eps))
  end
  local remaining = math.floor((capacity - (used - now)) / interval + eps)
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = remaining
  out[#out + 1] = math.ceil(used - now - eps)
  out[#out + 1] = retry
end

if out[1] == 1 then
  for _, w in ipairs(writes) do
    redis.call('SET', w[1], string.format('%.3f', w[2]), 'PX', math.max(1, math.ceil(w[2] - now)))
  end
else
  -- Report what is left without this request: nothing was charged.
  for i = 1, n do
    local b = 3 + (i - 1) * 6
    local o = 3 + (i - 1) * 3
    if out[o + 2] == 0 and costs[i] > 0 then
      local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
      if tat < now then tat = now end
      local interval = tonumber(ARGV[b + 1])
      out[o] = math.max(0, math.floor((tonumber(ARGV[b + 2]) - (tat - now)) / interval + eps))
      out[o + 1] = math.ceil(tat - now - eps)
    end
  end
end
return out
