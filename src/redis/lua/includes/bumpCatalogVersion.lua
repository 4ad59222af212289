--- @include "newCatalogVersion"
-- bumpCatalogVersion(version, cache): the catalog changed: a new version (every instance's copy
-- is now stale) and the read cache dropped, in the same script as the change.
local function bumpCatalogVersion(version, cache)
  if redis.call('INCR', version) == 1 then redis.call('SET', version, newCatalogVersion()) end
  redis.call('DEL', cache)
end
