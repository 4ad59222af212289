/** The instance list (service registry) and the domain event streams. */
import { ConfigError, duration, int, type Env } from './parse';

export interface InstancesConfig {
  /** REGISTRY_HEARTBEAT: how often an instance says it is alive. Default 5s. */
  readonly heartbeatMs: number;
  /** REGISTRY_TTL: an instance without a heartbeat for this long is gone. Default 15s. */
  readonly ttlMs: number;
}

export interface EventsConfig {
  /** EVENT_STREAM_MAXLEN: approximate length each domain event stream is trimmed to. Default 100000. */
  readonly streamMaxLen: number;
}

/** The TTL must outlive a heartbeat, or live instances would blink out between beats. */
export function readInstances(env: Env): InstancesConfig {
  const heartbeatMs = duration(env, 'REGISTRY_HEARTBEAT', '5s');
  const ttlMs = duration(env, 'REGISTRY_TTL', '15s');
  if (ttlMs <= heartbeatMs) throw new ConfigError('REGISTRY_TTL', `a duration longer than REGISTRY_HEARTBEAT (${heartbeatMs} ms)`, env.REGISTRY_TTL ?? '15s');
  return { heartbeatMs, ttlMs };
}

export function readEvents(env: Env): EventsConfig {
  return { streamMaxLen: int(env, 'EVENT_STREAM_MAXLEN', 100_000, 100, 1_000_000_000) };
}
