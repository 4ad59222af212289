-- Removes sessions from a user's index: one by id, or every one but a kept id.
-- KEYS[1] zset: session id -> created at (ms)
-- KEYS[2] hash: session id -> token hash
-- ARGV[1] "one" or "others"
-- ARGV[2] the session id to remove ("one") or to keep ("others")
-- Returns the flat list {id, tokenHash, ...} of removed sessions (empty when none).
--- @include "includes/unindexSession"
local removed = {}
local ids
if ARGV[1] == 'one' then ids = {ARGV[2]} else ids = redis.call('ZRANGE', KEYS[1], 0, -1) end
for _, id in ipairs(ids) do
  if ARGV[1] == 'one' or id ~= ARGV[2] then unindexSession(KEYS[1], KEYS[2], id, removed) end
end
return removed
