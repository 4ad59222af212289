/** Feature flags: how many may exist, and how often each instance re-reads them all. */
import { ConfigError, duration, int, str, type Env } from './parse';

export interface FlagsConfig {
  /** FLAGS_MAX: most feature flags that may exist at once; setFlag refuses a new one past it. Default 200. */
  readonly max: number;
  /** FLAGS_RESYNC: how often each instance re-reads every flag from Redis, healing a change message it missed. Default 30s. */
  readonly resyncMs: number;
}

export function readFlags(env: Env): FlagsConfig {
  const resyncMs = duration(env, 'FLAGS_RESYNC', '30s');
  if (resyncMs < 1000 || resyncMs > 3_600_000) throw new ConfigError('FLAGS_RESYNC', 'a duration from 1s to 1h, such as 30s', str(env, 'FLAGS_RESYNC') ?? '');
  return { max: int(env, 'FLAGS_MAX', 200, 1, 10_000), resyncMs };
}
