/** Starts a real gateway on an ephemeral port against real Redis, with a small GraphQL client. */
import { loadConfig } from '../../src/config';
import { startApp, type App } from '../../src/app/app';
import { createLogger } from '../../src/util/logger';
import { flushPrefix, testClusterSeeds, testRedisMode, testRedisUrl, uniquePrefix } from './redis';

export interface GqlResult<T = Record<string, any>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, any>; path?: Array<string | number> }>;
}

export interface RequestOptions {
  token?: string | null;
  cookie?: string;
  headers?: Record<string, string>;
}

export interface TestApp {
  app: App;
  url: string;
  prefix: string;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, opts?: RequestOptions): Promise<GqlResult<T>>;
  /** Deletes the prefix's keys when the app runs on the run's shared Redis (a private one is the test's to destroy). */
  flush(): Promise<void>;
  /** Closes the app, then flushes. */
  close(): Promise<void>;
}

/** Environment every test app starts from; override per test. */
export function testEnv(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const ownTarget = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'].some((k) => k in overrides);
  const cluster = testRedisMode() === 'cluster' && !ownTarget ? { REDIS_CLUSTER_NODES: testClusterSeeds() } : {};
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: testRedisUrl(),
    KEY_PREFIX: uniquePrefix(),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_DEFAULT: 'off',
    // Overrides reach instances over pub/sub; the periodic reload would only add stray commands to the files that count them.
    RATE_LIMIT_POLICY_RESYNC: '1h',
    SCRYPT_N: '1024',
    WORKER: '0',
    // Tests make their own products; test/e2e/sample-catalog.test.ts turns it on.
    SAMPLE_CATALOG: '0',
    ...cluster,
    ...overrides,
  };
}

/** POSTs a GraphQL operation to `url`/graphql. */
export async function gqlRequest<T = Record<string, any>>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  opts: RequestOptions = {},
): Promise<GqlResult<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'node-test', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  let body: { data?: T; errors?: GqlResult['errors'] };
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, headers: res.headers, data: body.data, errors: body.errors };
}

export async function startTestApp(overrides: Record<string, string | undefined> = {}): Promise<TestApp> {
  const env = testEnv(overrides);
  const config = loadConfig(env);
  const app = await startApp(config, { log: createLogger(config) });
  const url = `http://127.0.0.1:${app.port}`;
  const shared =
    (config.redis.target.kind === 'standalone' && config.redis.target.url === testRedisUrl()) ||
    (config.redis.target.kind === 'cluster' && testRedisMode() === 'cluster' && env.REDIS_CLUSTER_NODES === testClusterSeeds());
  const flush = async (): Promise<void> => {
    if (shared) await flushPrefix(config.redis.keyPrefix);
  };
  return {
    app,
    url,
    prefix: config.redis.keyPrefix,
    gql: (query, variables, opts) => gqlRequest(url, query, variables, opts),
    flush,
    async close() {
      await app.close();
      await flush();
    },
  };
}

let userSeq = 0;
/** Registers a fresh user and returns its token and id. */
export async function registerUser(
  t: { gql: TestApp['gql'] },
  opts: { email?: string; password?: string; name?: string; token?: string } = {},
): Promise<{ token: string; userId: string; email: string; password: string; sessionId: string }> {
  const email = opts.email ?? `user${process.pid}-${userSeq++}-${Date.now()}@example.com`;
  const password = opts.password ?? 'correct-horse-42';
  const res = await t.gql<{ register: { token: string; user: { id: string }; session: { id: string } } }>(
    'mutation R($input: RegisterInput!) { register(input: $input) { token user { id } session { id } } }',
    { input: { email, password, name: opts.name ?? 'Test User' } },
    { token: opts.token },
  );
  if (!res.data?.register) throw new Error(`register failed: ${JSON.stringify(res.errors)}`);
  return { token: res.data.register.token, userId: res.data.register.user.id, email, password, sessionId: res.data.register.session.id };
}

/** Signs in as the configured admin. */
export async function loginAs(t: { gql: TestApp['gql'] }, email: string, password: string): Promise<string> {
  const res = await t.gql<{ login: { token: string } }>('mutation L($input: LoginInput!) { login(input: $input) { token } }', { input: { email, password } });
  if (!res.data?.login) throw new Error(`login failed: ${JSON.stringify(res.errors)}`);
  return res.data.login.token;
}

export const ADMIN = { email: 'admin@example.com', password: 'admin-password-1' };
/** The variables that make an app create ADMIN at start-up. */
export const ADMIN_ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password };
/** Signs in as ADMIN (the app must have been started with ADMIN_ENV). */
export const adminToken = (t: { gql: TestApp['gql'] }): Promise<string> => loginAs(t, ADMIN.email, ADMIN.password);
