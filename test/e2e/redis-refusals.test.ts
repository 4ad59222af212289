/**
 * A Redis that is up but refuses writes for a reason that passes is a temporary outage, not a bug
 * of ours: NOREPLICAS (min-replicas-to-write with the replicas away), READONLY (a primary demoted
 * during a failover) and MASTERDOWN (a replica that lost its primary and serves no stale data) are
 * answered as SERVICE_UNAVAILABLE with HTTP 503, which clients retry, never INTERNAL_SERVER_ERROR.
 * Each refusal is produced for real on a private redis-server while a gateway runs against it.
 */
import Redis from 'ioredis';
import { freePort } from '../../src/redis/embedded';
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { ownRedis, type OwnRedis } from '../helpers/redis';

let redis: OwnRedis;
let admin: Redis;
let t: TestApp;
let user: { token: string };

beforeAll(async () => {
  redis = await ownRedis();
  admin = new Redis(redis.url);
  t = await startTestApp({ REDIS_URL: redis.url, ...ADMIN_ENV });
  const adm = await adminToken(t);
  await upsert(t, adm, { id: 'p1', stock: 1000 });
  user = await registerUser(t);
  expect((await addToCart(t, user.token, 'p1', 1)).errors).toBeUndefined();
});
afterAll(async () => {
  await t?.close();
  admin?.disconnect();
  await redis?.destroy();
});

afterEach(async () => {
  await admin.config('SET', 'min-replicas-to-write', '0');
  await admin.replicaof('NO', 'ONE');
  await admin.config('SET', 'replica-serve-stale-data', 'yes');
});

const ops: Array<[string, () => Promise<{ status: number; errors?: Array<{ extensions?: Record<string, any> }> }>]> = [
  [
    'register',
    () =>
      t.gql('mutation R($i: RegisterInput!) { register(input: $i) { token } }', {
        i: { email: `x${Date.now()}@example.com`, password: 'correct-horse-42', name: 'X' },
      }),
  ],
  ['addToCart', () => addToCart(t, user.token, 'p1', 1)],
  ['checkout', () => checkout(t, user.token)],
];

async function expectUnavailable(): Promise<void> {
  for (const [name, op] of ops) {
    const res = await op();
    expect({ name, status: res.status, code: res.errors?.[0]?.extensions?.code }).toEqual({ name, status: 503, code: 'SERVICE_UNAVAILABLE' });
  }
}

test('NOREPLICAS: min-replicas-to-write with no replica', async () => {
  await admin.config('SET', 'min-replicas-to-write', '1');
  await expectUnavailable();
});

test('READONLY: the primary was turned into a replica (failover)', async () => {
  await admin.replicaof('127.0.0.1', String(await freePort()));
  await expectUnavailable();
});

test('MASTERDOWN: a replica without its primary that serves no stale data', async () => {
  await admin.config('SET', 'replica-serve-stale-data', 'no');
  await admin.replicaof('127.0.0.1', String(await freePort()));
  await expectUnavailable();
});

test('once Redis takes writes again, the same operations succeed', async () => {
  expect((await addToCart(t, user.token, 'p1', 1)).errors).toBeUndefined();
});
