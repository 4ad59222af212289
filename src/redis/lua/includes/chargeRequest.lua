-- chargeRequest(kb, ab, n, b, now): charges one request's rate-limit keys, all or nothing (GCRA).
-- Its keys are KEYS[kb + 1 .. kb + n] (charged), KEYS[kb + n + 1 .. kb + n + b] (the caller's
-- block keys), then the sets its waivers name; its values are ARGV[ab + 1 ..], 7 per charged key:
--   cost      points to charge (0 only reads the state, or takes a lease ahead: a refill)
--   interval  ms per point (window / points)
--   capacity  burst * interval (ms)
--   oversize  "1": a cost above the burst passes when the bucket is full
--   waiver    0, or the index (from kb) of a set among this request's keys: when that set holds
--   member    `member` with an expiry still ahead, this key is waived (neither charged nor refunded)
--   lease     points to take ahead for the calling instance on top of `cost`, as many of them as
--             fit (0 to none); they never make the request refuse (docs/rate-limits.md, "Leases");
--             a waived key takes none
-- Returns {allowed (1 or 0), blockedMs, then per key: remaining, resetMs, retryMs, leased}
--   blockedMs  0, or the longest time left of a block: then allowed is 0 and no state follows
--   remaining  whole points left (after this charge when allowed)
--   resetMs    ms until the bucket is full again
--   retryMs    ms until this charge would pass (0 when it passes)
--   leased     points taken ahead for the instance (0 unless the request passes); `remaining` and
--              `resetMs` count them as not yet spent
-- Nothing is written unless every key passes.
--- @include "holdsUnexpired"
local function chargeRequest(kb, ab, n, b, now)
  -- Stored TATs are rounded to 1 us; this tolerance keeps N * (window / N) == window.
  local eps = 0.01
  -- A blocked caller is refused before anything is counted.
  local blocked = 0
  for k = kb + n + 1, kb + n + b do
    local left = redis.call('PTTL', KEYS[k])
    if left > blocked then blocked = left end
  end
  if blocked > 0 then return {0, blocked} end

  local out = {1, 0}
  local writes = {}
  local costs = {}
  for i = 1, n do
    local a = ab + (i - 1) * 7 + 1
    local key = KEYS[kb + i]
    local asked = tonumber(ARGV[a])
    local cost = asked
    local set = tonumber(ARGV[a + 4])
    if cost > 0 and set ~= 0 and holdsUnexpired(KEYS[kb + set], ARGV[a + 5], now) then cost = 0 end
    local lease = 0
    if cost == asked then lease = tonumber(ARGV[a + 6]) end
    costs[i] = cost
    local interval = tonumber(ARGV[a + 1])
    local capacity = tonumber(ARGV[a + 2])
    local tat = tonumber(redis.call('GET', key) or '0')
    if tat < now then tat = now end
    local newTat = tat + cost * interval
    local fits = newTat - now <= capacity + eps
    local oversize = cost * interval > capacity + eps
    if not fits and oversize and ARGV[a + 3] == '1' and tat - now <= eps then fits = true end
    local used, retry, leased = tat, 0, 0
    if fits and (cost > 0 or lease > 0) then
      used = newTat
      if lease > 0 then
        leased = math.min(lease, math.max(0, math.floor((capacity + eps - (newTat - now)) / interval)))
      end
      if cost > 0 or leased > 0 then writes[#writes + 1] = {key, newTat + leased * interval} end
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
    out[#out + 1] = leased
  end

  if out[1] == 1 then
    for _, w in ipairs(writes) do
      redis.call('SET', w[1], string.format('%.3f', w[2]), 'PX', math.max(1, math.ceil(w[2] - now)))
    end
  else
    -- Report what is left without this request: nothing was charged, nothing leased.
    for i = 1, n do
      local a = ab + (i - 1) * 7 + 1
      local o = 3 + (i - 1) * 4
      out[o + 3] = 0
      if out[o + 2] == 0 and costs[i] > 0 then
        local tat = tonumber(redis.call('GET', KEYS[kb + i]) or '0')
        if tat < now then tat = now end
        local interval = tonumber(ARGV[a + 1])
        out[o] = math.max(0, math.floor((tonumber(ARGV[a + 2]) - (tat - now)) / interval + eps))
        out[o + 1] = math.ceil(tat - now - eps)
      end
    end
  end
  return out
end
