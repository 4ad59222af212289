/**
 * The one place that reads `process.env` (and `.env`). Every variable of the contract is read
 * and checked once at start, grouped by capability as the code is (`config.sessions.*`,
 * `config.jobs.*`, ...); a bad value throws a {@link ConfigError} naming it.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { readAnalytics, type AnalyticsConfig } from './analytics';
import { readCommerce, type CommerceConfig } from './commerce';
import { readGraphQL, readHttp, readMetricsAccess, type GraphQLConfig, type HttpConfig, type MetricsAccess } from './http';
import { readAudit, type AuditConfig } from './audit';
import { readCache, type CacheConfig } from './cache';
import { readFlags, type FlagsConfig } from './flags';
import { readEvents, readInstances, type EventsConfig, type InstancesConfig } from './instances';
import { readJobs, type JobsConfig } from './jobs';
import { ConfigError, str, type Env } from './parse';
import { readRateLimits, type RateLimitConfig } from './ratelimits';
import { readRedis, type RedisConfig } from './redis';
import { readSessions, type PasswordResetSettings, type SessionsConfig } from './sessions';

export { ConfigError, parseDuration, parseRatePolicy, type Env, type RatePolicySpec } from './parse';
export { RESET_URL_TOKEN } from './sessions';
export type {
  AnalyticsConfig,
  CacheConfig,
  CommerceConfig,
  EventsConfig,
  FlagsConfig,
  GraphQLConfig,
  HttpConfig,
  InstancesConfig,
  JobsConfig,
  MetricsAccess,
  RateLimitConfig,
  RedisConfig,
  PasswordResetSettings,
  SessionsConfig,
};
export type { QueryLimits } from './http';
export type { RedisTarget } from './redis';
export type { SignInThrottleSettings } from './ratelimits';

export interface Config {
  /** NODE_ENV=production: introspection and suggestions off, internal errors masked, JSON logs. */
  readonly production: boolean;
  /** LOG_LEVEL (pino). Default info. */
  readonly logLevel: string;
  readonly http: HttpConfig;
  readonly graphql: GraphQLConfig;
  readonly metrics: MetricsAccess;
  readonly redis: RedisConfig;
  readonly sessions: SessionsConfig;
  readonly rateLimits: RateLimitConfig;
  readonly commerce: CommerceConfig;
  readonly jobs: JobsConfig;
  readonly analytics: AnalyticsConfig;
  readonly flags: FlagsConfig;
  readonly instances: InstancesConfig;
  readonly events: EventsConfig;
  readonly audit: AuditConfig;
  readonly cache: CacheConfig;
}

function logLevel(env: Env): string {
  const level = str(env, 'LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
    throw new ConfigError('LOG_LEVEL', 'fatal, error, warn, info, debug, trace or silent', level);
  }
  return level;
}

function production(env: Env): boolean {
  const nodeEnv = str(env, 'NODE_ENV');
  // A typo such as "prod" must not silently run with development conveniences on.
  if (nodeEnv !== undefined && !['production', 'development', 'test'].includes(nodeEnv)) {
    throw new ConfigError('NODE_ENV', 'production, development or test (or unset)', nodeEnv);
  }
  return nodeEnv === 'production';
}

/** Reads and validates `env`. Throws {@link ConfigError} on the first bad value. */
export function loadConfig(env: Env = readEnvironment()): Config {
  const prod = production(env);
  const http = readHttp(env);
  const config: Config = {
    production: prod,
    logLevel: logLevel(env),
    http,
    graphql: readGraphQL(env, prod),
    metrics: readMetricsAccess(env, http.port),
    redis: readRedis(env),
    sessions: readSessions(env),
    rateLimits: readRateLimits(env),
    commerce: readCommerce(env, prod),
    jobs: readJobs(env),
    analytics: readAnalytics(env),
    flags: readFlags(env),
    instances: readInstances(env),
    events: readEvents(env),
    audit: readAudit(env),
    cache: readCache(env),
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object' && !Object.isFrozen(v)) deepFreeze(v as object);
  return Object.freeze(o);
}

/**
 * The process environment over `.env` in the working directory, when there is one (the README
 * says to copy `.env.example` there): a variable set in the environment wins over the file.
 */
export function readEnvironment(cwd: string = process.cwd()): Env {
  const file = path.join(cwd, '.env');
  if (!existsSync(file)) return process.env;
  return { ...parseEnv(readFileSync(file, 'utf8')), ...process.env };
}
