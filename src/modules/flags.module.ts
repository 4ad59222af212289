/**
 * Feature flags: setFlag for admins, `flags` and `flagsUpdated` for anyone. Every gateway reads all
 * flags through the shared cache, which each change message drops on every instance.
 */
import { FlagResolver } from '../resolvers/flags/flag.resolver';
import { FlagService } from '../services/flags/flag.service';
import type { Module } from './module';

export const flagsModule: Module = {
  name: 'flags',
  services({ config, redis, keys, pubsub, log }, { visitors, cache }) {
    return { flags: new FlagService(redis, keys, pubsub, visitors, config, log, cache) };
  },
  resolvers: [FlagResolver],
  async install({ role, services, hooks }) {
    // A worker answers no queries: it need not hold the flags.
    if (role !== 'gateway') return;
    await services.flags.start();
    hooks.onStop.push(async () => services.flags.stop());
  },
};
