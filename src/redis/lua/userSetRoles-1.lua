-- Replaces a user's roles, only when the user exists (a missing one is never created half-made).
-- KEYS[1] the user hash (gw:user:{u:<id>})
-- ARGV[1] the roles, comma-separated
-- Returns 1 when set, 0 when there is no such user.
if redis.call('HEXISTS', KEYS[1], 'id') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'roles', ARGV[1])
return 1
