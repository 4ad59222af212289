/**
 * The shared cache (services/cache/): one per process, built before every other service so that
 * sessions, users, the catalog and flags can read through it; it hears other instances'
 * invalidations from the moment the process is installed until it stops.
 */
import { SharedCache } from '../services/cache/shared-cache';
import type { Module } from './module';

export const cacheModule: Module = {
  name: 'cache',
  services: ({ config, pubsub }) => ({ cache: new SharedCache(pubsub, config.cache) }),
  async install({ services, hooks }) {
    await services.cache.start();
    hooks.onStop.push(async () => services.cache.stop());
  },
};
