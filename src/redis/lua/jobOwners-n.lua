-- The type and owner of each job, read without sending its data back: the dead-letter
-- operations need the owners to name their quota keys before they move jobs.
-- KEYS[i]  job hash (<prefix>:{jobs}:<id>)
-- Returns per job: type ('' when the job does not exist), owner ('' for none, e.g. internal jobs).
local out = {}
for i = 1, #KEYS do
  local name = redis.call('HGET', KEYS[i], 'name')
  local owner = ''
  if name then
    -- Stored data is {"owner":"u:<id>",...} or {"owner":null,...} (job-record.ts).
    owner = string.match(redis.call('HGET', KEYS[i], 'data') or '', '^{"owner":"([^"]*)"') or ''
  end
  out[#out + 1] = name or ''
  out[#out + 1] = owner
end
return out
