/** Rate limiting: the Apollo plugin, the WebSocket subscribe guard, sign-in bookkeeping, /metrics counters, the statistics flush and the admins' overrides. */
import { rateLimitGuard, rateLimitPlugin } from '../plugins/ratelimit/ratelimit.plugin';
import { RateLimitResolver } from '../resolvers/ratelimit/ratelimit.resolver';
import { RateLimitService } from '../services/ratelimit/ratelimit.service';
import type { Module } from './module';

export const rateLimitModule: Module = {
  name: 'ratelimit',
  services: ({ config, redis, keys, pubsub, log }) => ({ rateLimits: new RateLimitService(redis, keys, pubsub, config, log) }),
  resolvers: [RateLimitResolver],
  async install({ config, role, services, metrics, hooks, log }) {
    const limits = services.rateLimits;
    limits.useMetrics(metrics);
    // Sign-in throttling counts failures only: a success gives back what its attempt reserved.
    services.auth.onSignedIn((ctx, email) => limits.signedIn(ctx, email));
    services.auth.onPasswordChecked((match) => limits.passwordChecked(match));
    hooks.plugins.push(rateLimitPlugin(limits, config.graphql.limits.cost));
    hooks.wsGuards.push(rateLimitGuard(limits, config.rateLimits.wsSubscriptions));
    hooks.wsRefused.push((ctx, bytes) => limits.chargeRejected(ctx, bytes));
    // A worker serves no requests: nothing to count, flush or override.
    if (role !== 'gateway') return;
    // Before the gateway listens, so that its first request already sees the admins' overrides.
    await limits.followOverrides();
    hooks.onStart.push(async () => {
      limits.start();
      if (!limits.policy) log.info('rate limits are off (RATE_LIMIT_DEFAULT=off)');
    });
    hooks.onStop.push(() => limits.stop());
  },
};
