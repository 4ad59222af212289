-- Adds a session to its user's index and evicts the oldest past the cap. The
-- session being added is never the one evicted, even when a racing login with
-- a later creation time reached the index first.
-- KEYS[1] zset: session id -> created at (ms)
-- KEYS[2] hash: session id -> token hash
-- ARGV[1] session id
-- ARGV[2] token hash
-- ARGV[3] created at (ms)
-- ARGV[4] cap (sessions per user)
-- ARGV[5] index lifetime (ms): the absolute session lifetime
-- Returns the flat list {id, tokenHash, ...} of evicted sessions.
--- @include "includes/unindexSession"
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local evicted = {}
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  -- One candidate more than needed, in case the new session is among the oldest.
  local oldest = redis.call('ZRANGE', KEYS[1], 0, over)
  for _, id in ipairs(oldest) do
    if over > 0 and id ~= ARGV[1] then
      unindexSession(KEYS[1], KEYS[2], id, evicted)
      over = over - 1
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return evicted
