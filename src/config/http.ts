/** The HTTP and WebSocket listener, the GraphQL request limits, and who may read /metrics. */
import { isIP } from 'node:net';
import { ConfigError, HOSTNAME, bool, int, ipList, list, str, type Env } from './parse';

export interface HttpConfig {
  /** PORT. Default 4000. */
  readonly port: number;
  /** HOST. Default 127.0.0.1 (the container image sets 0.0.0.0). */
  readonly host: string;
  /** TRUSTED_PROXIES: peers whose X-Forwarded-For / -Proto / -Host are believed. Default none. */
  readonly trustedProxies: readonly string[];
  /** CORS_ORIGINS: exact browser origins allowed to call /graphql with credentials and to open the WebSocket. Default none. */
  readonly corsOrigins: readonly string[];
  /** BODY_LIMIT_BYTES: largest request body and WebSocket message. Default 1 MiB. */
  readonly bodyLimitBytes: number;
  /** WS_MAX_CONNECTIONS_PER_IP: WebSocket connections one client address may hold open on this instance. Default 100. */
  readonly wsMaxConnectionsPerIp: number;
}

export interface QueryLimits {
  depth: number;
  aliases: number;
  directives: number;
  tokens: number;
  cost: number;
}

export interface GraphQLConfig {
  /** INTROSPECTION. Default on, off in production. */
  readonly introspection: boolean;
  /** QUERY_MAX_*: depth 12, aliases 100, directives 20, tokens 1000, cost 1000. */
  readonly limits: QueryLimits;
}

export interface MetricsAccess {
  /** METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <token>`. Default unset. */
  readonly token: string | null;
  /** METRICS_PORT: when set, /metrics is served on its own listener (on HOST) and not on PORT. Default unset. */
  readonly port: number | null;
}

function bindHost(env: Env): string {
  const raw = str(env, 'HOST');
  // The container image sets HOST=0.0.0.0; elsewhere only loopback is bound unless asked.
  if (raw === undefined) return '127.0.0.1';
  if (isIP(raw) || HOSTNAME.test(raw)) return raw;
  throw new ConfigError('HOST', 'an IPv4 or IPv6 address or a host name to bind, such as 0.0.0.0 or 127.0.0.1', raw);
}

/**
 * Exact origins as a browser serializes them in `Origin`: http(s), lower case, no default port,
 * no path. Anything else could never match a request, or (a wildcard) would match too much.
 */
function originList(env: Env, name: string): string[] {
  const origins = list(env, name);
  for (const item of origins) {
    const u = URL.canParse(item) ? new URL(item) : null;
    const host = u?.hostname.replace(/^\[(.*)\]$/, '$1') ?? '';
    const ok = u !== null && (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item && (HOSTNAME.test(host) || isIP(host) !== 0);
    if (!ok) {
      throw new ConfigError(
        name,
        'comma-separated exact origins such as https://shop.example.com or http://localhost:5173 (http or https, lower case, a port only when not the default, no path, no wildcard)',
        item,
      );
    }
  }
  return origins;
}

export function readHttp(env: Env): HttpConfig {
  return {
    port: int(env, 'PORT', 4000, 0, 65535),
    host: bindHost(env),
    trustedProxies: ipList(env, 'TRUSTED_PROXIES'),
    corsOrigins: originList(env, 'CORS_ORIGINS'),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    wsMaxConnectionsPerIp: int(env, 'WS_MAX_CONNECTIONS_PER_IP', 100, 1, 1_000_000),
  };
}

export function readGraphQL(env: Env, production: boolean): GraphQLConfig {
  return {
    introspection: bool(env, 'INTROSPECTION', !production),
    limits: {
      depth: int(env, 'QUERY_MAX_DEPTH', 12, 2, 100),
      aliases: int(env, 'QUERY_MAX_ALIASES', 100, 1, 10_000),
      directives: int(env, 'QUERY_MAX_DIRECTIVES', 20, 1, 1000),
      // GraphiQL's introspection query is the largest document real clients send: 183 tokens (docs/api.md).
      tokens: int(env, 'QUERY_MAX_TOKENS', 1000, 100, 1_000_000),
      cost: int(env, 'QUERY_MAX_COST', 1000, 1, 1_000_000),
    },
  };
}

export function readMetricsAccess(env: Env, port: number): MetricsAccess {
  // Taken verbatim, like passwords; long enough that guessing it is not a plan.
  const token = env.METRICS_TOKEN ?? '';
  if (token && !/^[\x21-\x7e]{16,256}$/.test(token)) throw new ConfigError('METRICS_TOKEN', '16 to 256 printable ASCII characters without spaces', '(hidden)');
  const metricsPort = str(env, 'METRICS_PORT') === undefined ? null : int(env, 'METRICS_PORT', 0, 0, 65535);
  if (metricsPort !== null && metricsPort !== 0 && metricsPort === port)
    throw new ConfigError('METRICS_PORT', `a port other than PORT (${port})`, String(metricsPort));
  return { token: token || null, port: metricsPort };
}
