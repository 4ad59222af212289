-- newCatalogVersion(): a catalog version from the Redis clock (microseconds since the epoch), for
-- a version counter that is missing: one lost with its key (a flush, a failover) never comes back
-- as a version some instance still holds a copy of.
local function newCatalogVersion()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
