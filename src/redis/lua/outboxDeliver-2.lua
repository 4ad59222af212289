-- Puts one job's message in the outbox once: a re-run of the same job (after a
-- crash or a retry) finds the marker and adds nothing.
-- KEYS[1] outbox list (newest first)   KEYS[2] the job's delivery marker
-- ARGV[1] message (JSON)   ARGV[2] outbox cap   ARGV[3] marker lifetime (ms)
-- Returns 1 delivered now, 0 already delivered.
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) == false then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
