-- Lists a new API key, unless as many keys as allowed exist already.
-- KEYS[1] hash: key id -> key hash (gw:apikeys:{apikeys}:ids)
-- ARGV[1] key id, ARGV[2] key hash, ARGV[3] most keys (API_KEYS_MAX)
-- Returns 1 when listed, 0 when the list is full.
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
