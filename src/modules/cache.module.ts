/**
 * The shared cache (services/cache/): one per process, built before every other service so that
 * sessions, users, the catalog, flags and `@Cached` fields can read through it; it hears other
 * instances' invalidations from the moment the process is installed until it stops. `results`
 * keeps `@Cached` field results, in memory and in Redis (docs/caching.md).
 */
import { ResultCache } from '../services/cache/result-cache';
import { SharedCache } from '../services/cache/shared-cache';
import type { Module } from './module';

export const cacheModule: Module = {
  name: 'cache',
  services: ({ config, pubsub, redis, keys }) => {
    const cache = new SharedCache(pubsub, config.cache, { redis, keys });
    return { cache, results: new ResultCache(cache, redis, keys) };
  },
  async install({ services, hooks }) {
    await services.cache.start();
    hooks.onStop.push(async () => services.cache.stop());
  },
};
