--- @include "newCatalogVersion"
-- bumpCatalogVersion(version, cache): the catalog changed: the read cache dropped and a new version,
-- in the same script as the change. The gateway reads the cache on a miss of its shared cache and
-- no longer checks the version itself (the script's product message drops its entries); the
-- version stays for services that keep their own copy by it (docs/events.md, "Sharing the catalog
-- cache") and for gateways of the previous release during a rolling upgrade.
local function bumpCatalogVersion(version, cache)
  if redis.call('INCR', version) == 1 then redis.call('SET', version, newCatalogVersion()) end
  redis.call('DEL', cache)
end
