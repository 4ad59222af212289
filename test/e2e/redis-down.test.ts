/**
 * Redis going away: requests fail within a second with SERVICE_UNAVAILABLE
 * (HTTP 503) and never hang, /readyz flips to 503, and the gateway recovers by
 * itself when Redis returns (requests, readiness, pub/sub subscriptions).
 */
import Redis from 'ioredis';
import { startTestApp, registerUser, type TestApp } from '../helpers/app';
import { ownRedis, type OwnRedis } from '../helpers/redis';
import { collect, wsClient } from '../helpers/ws';

let redis: OwnRedis;
let t: TestApp;
let user: { token: string; userId: string };

beforeAll(async () => {
  redis = await ownRedis();
  t = await startTestApp({ REDIS_URL: redis.url });
  user = await registerUser(t);
});
afterAll(async () => {
  await t?.close();
  await redis?.destroy();
});

const ME = '{ me { id } }';

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

async function readyz(): Promise<number> {
  return (await fetch(`${t.url}/readyz`)).status;
}

/** Polls until `fn` resolves true or `ms` pass; returns how long it took. */
async function within(ms: number, fn: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await fn().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function serverPid(): Promise<number> {
  const c = new Redis(redis.url);
  try {
    return Number(/process_id:(\d+)/.exec(await c.info('server'))?.[1]);
  } finally {
    c.disconnect();
  }
}

test('with Redis up, requests and readiness succeed', async () => {
  expect((await t.gql(ME, {}, { token: user.token })).data?.me).toEqual({ id: user.userId });
  expect(await readyz()).toBe(200);
});

describe('Redis stopped', () => {
  beforeAll(async () => {
    await redis.stop();
    // A session and user checked in the last 800 ms are still held by the instance (docs/caching.md): past that, `me` needs Redis.
    await new Promise((r) => setTimeout(r, 900));
  });

  test('a request that needs Redis fails within 1 s with SERVICE_UNAVAILABLE and HTTP 503', async () => {
    const { value: res, ms } = await timed(() => t.gql(ME, {}, { token: user.token }));
    expect(ms).toBeLessThan(1000);
    expect(res.status).toBe(503);
    expect(res.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(res.errors?.[0]?.message).toMatch(/temporarily unavailable/);
  });

  test('mutations too; 50 concurrent requests all answer 503, none waits for Redis', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => timed(() => (i % 2 ? t.gql(ME, {}, { token: user.token }) : t.gql('mutation { startGuestSession { token } }')))),
    );
    for (const { value: r, ms } of results) {
      expect(r.status).toBe(503);
      expect(r.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      // Each one fails on the spot (no offline queue); the bound only leaves room for a busy CPU.
      expect(ms).toBeLessThan(2000);
    }
  });

  test('/readyz answers 503 within 1 s; /healthz stays 200', async () => {
    const { value, ms } = await timed(readyz);
    expect(value).toBe(503);
    expect(ms).toBeLessThan(1000);
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  });

  test('a WebSocket that authenticates while Redis is down is closed with 1013 (try again later), not left hanging', async () => {
    const client = wsClient(t.url, { token: user.token });
    const started = Date.now();
    const sub = collect(client, 'subscription { __typename }', {}, 1, 3000);
    await sub.done;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(sub.errors.length).toBeGreaterThan(0);
    // 1013 "try again later", not graphql-ws's 4500 internal error.
    expect((sub.errors[0] as { code?: number }).code).toBe(1013);
    await client.dispose();
  });

  test('errors are counted by code in /metrics', async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/^graphql_errors_total\{code="SERVICE_UNAVAILABLE"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(51);
  });
});

describe('Redis back', () => {
  beforeAll(() => redis.restart());

  test('requests succeed again within a few seconds, with the data kept (AOF)', async () => {
    const took = await within(5000, async () => (await t.gql(ME, {}, { token: user.token })).data?.me?.id === user.userId);
    expect(took).toBeLessThan(5000);
    expect(await readyz()).toBe(200);
  });

  test('pub/sub resubscribes: an event published after the restart reaches an earlier subscriber', async () => {
    const iter = t.app.services.pubsub.subscribe('redis-down-test')[Symbol.asyncIterator]();
    const next = iter.next();
    await new Promise((r) => setTimeout(r, 100));
    await t.app.services.pubsub.publishAsync('redis-down-test', { n: 1 });
    await expect(Promise.race([next, new Promise((_, rej) => setTimeout(() => rej(new Error('no event')), 3000))])).resolves.toEqual({
      value: { n: 1 },
      done: false,
    });
    await iter.return?.();
  });
});

describe('a subscription across an outage', () => {
  test('an in-process subscriber from before the outage gets events published after recovery', async () => {
    const iter = t.app.services.pubsub.subscribe('across-outage')[Symbol.asyncIterator]();
    const first = iter.next();
    await new Promise((r) => setTimeout(r, 100));
    await redis.restart();
    await within(5000, async () => (await readyz()) === 200);
    // The subscriber connection resubscribes on reconnect; give it its round trip.
    await within(3000, async () => {
      await t.app.services.pubsub.publishAsync('across-outage', { ok: true });
      return Promise.race([first.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 200))]);
    });
    await expect(first).resolves.toEqual({ value: { ok: true }, done: false });
    await iter.return?.();
  });
});

describe('Redis not answering (process paused)', () => {
  let pid: number;
  beforeAll(async () => {
    pid = await serverPid();
    process.kill(pid, 'SIGSTOP');
  });
  afterAll(() => {
    process.kill(pid, 'SIGCONT');
  });

  test('requests fail with SERVICE_UNAVAILABLE within 1 s (command timeout), never hang', async () => {
    const { value: res, ms } = await timed(() => t.gql(ME, {}, { token: user.token }));
    expect(res.status).toBe(503);
    expect(res.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(ms).toBeLessThan(1000);
  });

  test('/readyz answers 503 within a second', async () => {
    const { value, ms } = await timed(readyz);
    expect(value).toBe(503);
    expect(ms).toBeLessThan(1000);
  });

  test('after it resumes, requests succeed again', async () => {
    process.kill(pid, 'SIGCONT');
    await within(3000, async () => (await t.gql(ME, {}, { token: user.token })).data?.me?.id === user.userId);
    expect(await readyz()).toBe(200);
  });
});
