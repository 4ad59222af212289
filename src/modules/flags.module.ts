/**
 * Feature flags: setFlag for admins, `flags` and `flagsUpdated` for anyone. Every gateway holds
 * all flags in memory, loaded before it listens and kept current over pub/sub.
 */
import { FlagResolver } from '../resolvers/flags/flag.resolver';
import { FlagService } from '../services/flags/flag.service';
import type { Module } from './module';

export const flagsModule: Module = {
  name: 'flags',
  services({ config, redis, keys, pubsub, log }, { visitors }) {
    return { flags: new FlagService(redis, keys, pubsub, visitors, config, log) };
  },
  resolvers: [FlagResolver],
  async install({ role, services, hooks }) {
    // A worker answers no queries: it need not hold the flags.
    if (role !== 'gateway') return;
    await services.flags.start();
    hooks.onStop.push(async () => services.flags.stop());
  },
};
