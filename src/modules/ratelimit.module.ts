/** Rate limiting: the Apollo plugin, the WebSocket subscribe guard, sign-in bookkeeping, /metrics counters and the statistics flush. */
import type { Module } from './module';
import { rateLimitGuard, rateLimitPlugin } from '../plugins/ratelimit/ratelimit.plugin';

export const installRateLimits: Module = ({ services, metrics, hooks, log }) => {
  const limits = services.rateLimits;
  limits.useMetrics(metrics);
  // Sign-in throttling counts failures only: a success gives back what its attempt reserved.
  services.auth.onSignedIn((ctx, email) => limits.signedIn(ctx, email));
  services.auth.onPasswordChecked((match) => limits.passwordChecked(match));
  hooks.plugins.push(rateLimitPlugin(limits, services.config.graphql.limits.cost));
  hooks.wsGuards.push(rateLimitGuard(limits, services.config.rateLimits.wsSubscriptions));
  hooks.wsRefused.push((ctx, bytes) => limits.chargeRejected(ctx, bytes));
  hooks.onStart.push(async () => {
    limits.start();
    if (!limits.policy) log.info('rate limits are off (RATE_LIMIT_DEFAULT=off)');
  });
  hooks.onStop.push(() => limits.stop());
};
