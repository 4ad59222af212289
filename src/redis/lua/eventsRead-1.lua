-- Reads one domain event stream after an entry id, with the Redis clock at the same instant, for
-- the domainEvents subscription: every entry appended later gets an id of this millisecond or a
-- later one, so the reader knows which part of the stream is complete.
-- KEYS[1] the stream
-- ARGV[1] entry id to read after (exclusive)
-- ARGV[2] at most this many entries (0: only the clock and the stream's state)
-- Returns {seconds, microseconds, entries, firstId, entriesAdded, length, lastGeneratedId}:
--   entries as XRANGE gives them; firstId the oldest entry held (false when none);
--   entriesAdded, length and lastGeneratedId from XINFO STREAM (entriesAdded false before Redis 7),
--   so the caller can tell whether entries after ARGV[1] were trimmed away.
--   A stream that does not exist answers {seconds, microseconds, {}, false, '0', '0', '0-0'}.
local t = redis.call('TIME')
if redis.call('EXISTS', KEYS[1]) == 0 then return {t[1], t[2], {}, false, '0', '0', '0-0'} end
local entries = {}
local count = tonumber(ARGV[2])
if count > 0 then entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', count) end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local f = {}
for i = 1, #info, 2 do f[info[i]] = info[i + 1] end
local first = f['first-entry']
local added = f['entries-added']
return {
  t[1], t[2], entries,
  (type(first) == 'table' and first[1]) or false,
  added and tostring(added) or false,
  tostring(f['length']),
  f['last-generated-id'],
}
