-- unindexSession(index, tokens, id, out): takes session `id` out of its user's index (the zset
-- `index` and the hash `tokens` of id -> token hash) and, when it had a token hash, appends
-- id and token hash to `out`, for the caller to delete the session itself.
local function unindexSession(index, tokens, id, out)
  local th = redis.call('HGET', tokens, id)
  redis.call('ZREM', index, id)
  redis.call('HDEL', tokens, id)
  if th then
    out[#out + 1] = id
    out[#out + 1] = th
  end
end
