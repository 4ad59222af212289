/**
 * Two gateways on one key prefix: two replicas of one deployment behind a load balancer,
 * for tests of what one instance does and the other sees (caches, limits, revocation, live events).
 */
import { ADMIN_ENV, adminToken, startTestApp, type TestApp } from './app';
import { uniquePrefix } from './redis';

type Env = Record<string, string | undefined>;

export interface Instances {
  a: TestApp;
  b: TestApp;
  /** The key prefix both use. */
  prefix: string;
  /** With `admin: true`, ADMIN's token (signed in on `a`). */
  admin: string;
  /** Closes both, then flushes the prefix once. */
  close(): Promise<void>;
}

export interface InstancesOptions {
  /** Start both with ADMIN_ENV and sign in as ADMIN. */
  admin?: boolean;
  /** Variables for one of them only, e.g. `{ a: { WORKER: '1' }, b: { WORKER: '0' } }`. */
  a?: Env;
  b?: Env;
}

/**
 * Starts both at once, as replicas start (so both may race to create ADMIN), on `env.KEY_PREFIX`
 * or a fresh prefix. Resolves once both listen; if one fails to start, the other is closed.
 */
export async function startInstances(env: Env = {}, opts: InstancesOptions = {}): Promise<Instances> {
  const prefix = env.KEY_PREFIX ?? uniquePrefix('two');
  const shared = { ...(opts.admin ? ADMIN_ENV : {}), ...env, KEY_PREFIX: prefix };
  const [a, b] = await Promise.allSettled([startTestApp({ ...shared, ...opts.a }), startTestApp({ ...shared, ...opts.b })]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    for (const s of [a, b]) if (s.status === 'fulfilled') await s.value.close();
    throw a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason;
  }
  const pair: Instances = {
    a: a.value,
    b: b.value,
    prefix,
    admin: '',
    async close() {
      // app.close(), not close(): each of those would flush the prefix the other still uses.
      await Promise.all([pair.a.app.close(), pair.b.app.close()]);
      await pair.a.flush();
    },
  };
  try {
    if (opts.admin) pair.admin = await adminToken(pair.a);
  } catch (err) {
    await pair.close();
    throw err;
  }
  return pair;
}

/**
 * The same, for a whole file or describe block: starts them in beforeAll and closes them in
 * afterAll. The returned object is filled in once they have started.
 */
export function twoInstances(env: Env = {}, opts: InstancesOptions = {}): Instances {
  const pair = {} as Instances;
  beforeAll(async () => {
    Object.assign(pair, await startInstances(env, opts));
  });
  afterAll(async () => {
    await pair.close?.();
  });
  return pair;
}
