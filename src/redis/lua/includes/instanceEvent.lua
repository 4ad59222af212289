-- appendInstanceEvent(stream, maxLen, kind, reason, occurredAt, source, record): the domain event
-- `kind` (instance.joined, instance.left) for the instance whose registry record (JSON, as the
-- info hash holds it) is `record`, appended to the instances stream, trimmed to about maxLen.
-- Nothing is appended for a missing or unreadable record.
local function appendInstanceEvent(stream, maxLen, kind, reason, occurredAt, source, record)
  if not record then return end
  local ok, r = pcall(cjson.decode, record)
  if not ok or type(r) ~= 'table' or type(r.id) ~= 'string' then return end
  local event = {
    id = kind .. ':' .. r.id .. ':' .. occurredAt, type = kind, version = 1, occurredAt = occurredAt, source = source,
    data = {
      instanceId = r.id, role = r.role, roles = r.roles, version = r.version, address = r.address,
      hostname = r.hostname, pid = r.pid, startedAt = r.startedAt, reason = reason,
    },
  }
  redis.call('XADD', stream, 'MAXLEN', '~', maxLen, '*', 'type', kind, 'event', cjson.encode(event))
end
