/**
 * examples/events-consumer/consumer.js, the documented way for another service to read the
 * domain event streams: run as its own process against the real Redis, with its own consumer
 * group, it receives (and acknowledges) the events the gateway emits, and takes over the entries
 * a crashed consumer of its group left pending.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type Redis from 'ioredis';
import { registerUser, ADMIN_ENV, adminToken, startTestApp, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { readGroup, type Entry } from '../helpers/events';
import { waitFor } from '../helpers/jobs';
import { rawRedis, testClusterSeeds, testRedisMode, testRedisUrl } from '../helpers/redis';

const SCRIPT = path.join(__dirname, '..', '..', 'examples', 'events-consumer', 'consumer.js');

let t: TestApp;
let r: Redis;
beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  r = rawRedis();
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

interface Printed {
  stream: string;
  entryId: string;
  type: string;
  id: string;
  data: Record<string, any>;
}

/** Runs the example until it exits (it does after MAX_EVENTS events); its printed events and stderr. */
function runExample(env: Record<string, string>): { ready: Promise<void>; exited: Promise<{ code: number | null; events: Printed[]; stderr: string }> } {
  const target = testRedisMode() === 'cluster' ? { REDIS_CLUSTER_NODES: testClusterSeeds() } : { REDIS_URL: testRedisUrl() };
  const child = spawn(process.execPath, [SCRIPT], {
    env: { PATH: process.env.PATH, ...target, KEY_PREFIX: t.prefix, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  const ready = new Promise<void>((resolve) =>
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
      if (stderr.includes('consuming ')) resolve();
    }),
  );
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<{ code: number | null; events: Printed[]; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      const events = stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Printed);
      resolve({ code, events, stderr });
    }),
  );
  return { ready, exited };
}

const pending = async (stream: string, group: string): Promise<number> => ((await r.xpending(stream, group)) as [number])[0];

test('with its own consumer group it receives the events the gateway emits and acknowledges them', async () => {
  const users = t.app.services.domainEvents.stream('users');
  const orders = t.app.services.domainEvents.stream('orders');
  const run = runExample({ GROUP: 'example', START: '$', DOMAINS: 'users,orders', MAX_EVENTS: '2' });
  await run.ready;
  await waitFor('its groups exist', async () => {
    const groups = await Promise.all([users, orders].map((s) => r.xinfo('GROUPS', s).catch(() => []) as Promise<unknown[]>));
    return groups.every((g) => g.length === 1);
  });

  const admin = await adminToken(t);
  await upsert(t, admin, { id: 'ex-1', priceCents: 450, stock: 5, currency: 'EUR' });
  const u = await registerUser(t);
  await addToCart(t, u.token, 'ex-1', 2);
  const order = (await checkout(t, u.token)).data?.checkout as { id: string };

  const { code, events, stderr } = await run.exited;
  expect({ code, stderr }).toEqual({ code: 0, stderr: expect.stringContaining(`consuming ${users}, ${orders} as example/`) });
  expect(events.map((e) => [e.stream, e.type, e.id]).sort()).toEqual(
    [
      [orders, 'order.placed', `order.placed:${order.id}`],
      [users, 'user.registered', `user.registered:${u.userId}`],
    ].sort(),
  );
  expect(events.find((e) => e.type === 'user.registered')?.data).toEqual({ userId: u.userId, email: u.email, name: 'Test User' });
  expect(events.find((e) => e.type === 'order.placed')?.data).toMatchObject({ orderId: order.id, userId: u.userId, status: 'PENDING', totalCents: 900 });
  // The entry ids are the streams' own, and the group acknowledged both.
  expect(events.find((e) => e.type === 'user.registered')?.entryId).toBe(((await r.xrange(users, '-', '+')) as Entry[]).at(-1)![0]);
  expect(await pending(users, 'example')).toBe(0);
  expect(await pending(orders, 'example')).toBe(0);
});

test('it takes over what a crashed consumer of its group read and never acknowledged', async () => {
  const users = t.app.services.domainEvents.stream('users');
  await r.xgroup('CREATE', users, 'recovery', '$', 'MKSTREAM');
  const u = await registerUser(t);
  const [taken] = await readGroup(r, users, 'recovery', 'crashed-consumer');
  expect(taken).toBeDefined();
  expect(await pending(users, 'recovery')).toBe(1);

  const run = runExample({ GROUP: 'recovery', DOMAINS: 'users', CLAIM_IDLE_MS: '0', MAX_EVENTS: '1' });
  const { code, events } = await run.exited;
  expect(code).toBe(0);
  expect(events.map((e) => [e.entryId, e.type, e.data.userId])).toEqual([[taken[0], 'user.registered', u.userId]]);
  expect(await pending(users, 'recovery')).toBe(0);
});
