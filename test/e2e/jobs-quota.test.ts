/**
 * Per-owner job quotas (JOB_MAX_PENDING_PER_USER, JOB_MAX_PENDING_BYTES_PER_USER): the
 * attack of the finding (one account filling Redis with delayed 64 KB jobs), exactness
 * under 320 parallel requests on two instances, the byte quota, batches, idempotent
 * re-enqueues, and the reservation through a job's life with a real worker.
 */
import type Redis from 'ioredis';
import { Worker } from 'bullmq';
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type GqlResult, type TestApp } from '../helpers/app';
import { startInstances } from '../helpers/instances';
import {
  CANCEL,
  ENQUEUE,
  ENQUEUE_MANY,
  MY_QUOTA,
  RETRY,
  enqueue,
  quotaOf,
  waitFor,
  waitForState,
  webhookReceiver,
  type JobView,
  type Receiver,
} from '../helpers/jobs';
import { rawRedis, uniquePrefix } from '../helpers/redis';
import { wsClient } from '../helpers/ws';
import { closeQuietly, connect } from '../../src/redis/connection';
import { JobRunner } from '../../src/worker/job-runner';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
let redis: Redis;
let receiver: Receiver;
const apps: TestApp[] = [];

beforeAll(async () => {
  redis = rawRedis();
  receiver = await webhookReceiver();
});
afterEach(async () => {
  for (const a of apps.splice(0).reverse()) await a.close();
  receiver.respond = () => ({});
});
afterAll(async () => {
  redis.disconnect();
  await receiver.close();
});

async function app(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await startTestApp({ ...ADMIN_ENV, WEBHOOK_ALLOWED_HOSTS: receiver.host, ...env });
  apps.push(t);
  return t;
}

type Err = NonNullable<GqlResult['errors']>[number];
const firstError = (res: GqlResult): Err | undefined => res.errors?.[0];
const mail = (to: string, extra: Record<string, unknown> = {}, body = 'hello'): Record<string, unknown> => ({
  type: 'email.send',
  data: { to, subject: 'quota', body },
  ...extra,
});
/** Bytes of a job's data as BullMQ stores it. */
const storedBytes = (t: TestApp, id: string): Promise<number> => redis.hstrlen(`${t.prefix}:{jobs}:${id}`, 'data');
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Runs `n` calls of `fn`, `width` at a time. */
async function pool<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) out[i] = await fn(i);
    }),
  );
  return out;
}

describe('the attack: one fresh account enqueueing in a loop', () => {
  test('delayed 64 KB jobs stop at the bytes quota (4 MiB by default), rate limits off', async () => {
    const t = await app({ RATE_LIMIT_DEFAULT: 'off' });
    expect(t.app.config.rateLimits.default).toBeNull();
    const u = await registerUser(t);
    const input = mail(u.email, { delayMs: 3_600_000 }, 'x'.repeat(65_000));
    const started = Date.now();
    const results = await pool(630, 8, () => t.gql<{ enqueueJob: JobView }>(ENQUEUE, { input }, { token: u.token }));
    const tookMs = Date.now() - started;
    const stored = results.filter((r) => r.data?.enqueueJob).map((r) => r.data!.enqueueJob.id);
    const refused = results.filter((r) => !r.data?.enqueueJob);
    const bytes = await Promise.all(stored.map((id) => storedBytes(t, id)));
    const perJob = bytes[0];
    expect(perJob).toBeGreaterThan(65_000);
    expect(stored).toHaveLength(Math.floor((4 * MiB) / perJob));
    expect(sum(bytes)).toBeLessThanOrEqual(4 * MiB);
    expect(refused).toHaveLength(630 - stored.length);
    for (const r of refused) {
      expect(firstError(r)?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'pendingBytes', limit: 4 * MiB, used: sum(bytes), requested: perJob });
    }
    expect((await t.app.services.jobs.counts()).delayed).toBe(stored.length);
    expect(await quotaOf(t, u.token)).toEqual({ pending: stored.length, pendingBytes: sum(bytes), maxPending: 200, maxPendingBytes: 4 * MiB });
    // What the account holds in Redis: its job hashes and the quota's own keys.
    const keys = [...stored.map((id) => `${t.prefix}:{jobs}:${id}`)];
    let quotaKeys: string[] = [];
    for (let cursor = '0'; ;) {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${t.prefix}:{jobs}:quota*`, 'COUNT', 1000);
      quotaKeys = quotaKeys.concat(found);
      cursor = next;
      if (cursor === '0') break;
    }
    const usage = await Promise.all([...keys, ...quotaKeys].map(async (k) => Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'))));
    const held = sum(usage);
    console.log(
      `quota attack: 630 requests of a ${perJob}-byte delayed job in ${tookMs} ms; ${stored.length} stored (${sum(bytes)} bytes of data), ${refused.length} QUOTA_EXCEEDED; Redis MEMORY USAGE of the account's job hashes + quota keys: ${held} bytes (${(held / MiB).toFixed(2)} MiB)`,
    );
    expect(held).toBeLessThan(5 * MiB);
  });

  test('small jobs stop at the count quota (200 by default)', async () => {
    const t = await app();
    const u = await registerUser(t);
    const results = await pool(260, 8, () => t.gql(ENQUEUE, { input: mail(u.email, { delayMs: 3_600_000 }) }, { token: u.token }));
    const refused = results.filter((r) => !r.data?.enqueueJob);
    expect(results.length - refused.length).toBe(200);
    expect(refused).toHaveLength(60);
    for (const r of refused) expect(firstError(r)?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'pending', limit: 200, used: 200, requested: 1 });
    expect(firstError(refused[0])?.message).toMatch(/200 of 200/);
    // Another account is not affected.
    const other = await registerUser(t);
    await expect(enqueue(t, other.token, mail(other.email))).resolves.toMatchObject({ state: 'WAITING' });
  });
});

test('exact across two instances: 320 parallel requests with a quota of 50 store exactly 50', async () => {
  const { a, b, close } = await startInstances({
    ...ADMIN_ENV,
    WEBHOOK_ALLOWED_HOSTS: receiver.host,
    KEY_PREFIX: uniquePrefix('quota2'),
    JOB_MAX_PENDING_PER_USER: '50',
  });
  try {
    const u = await registerUser(a);
    const results = await Promise.all(
      Array.from({ length: 320 }, (_, i) =>
        (i % 2 ? a : b).gql<{ enqueueJob: JobView }>(ENQUEUE, { input: mail(u.email, { delayMs: i % 3 ? 3_600_000 : 0 }, 'y'.repeat(i)) }, { token: u.token }),
      ),
    );
    const stored = results.filter((r) => r.data?.enqueueJob).map((r) => r.data!.enqueueJob.id);
    const codes = results.filter((r) => !r.data?.enqueueJob).map((r) => firstError(r)?.extensions?.code);
    expect(stored).toHaveLength(50);
    expect(codes).toEqual(Array(270).fill('QUOTA_EXCEEDED'));
    const counts = await a.app.services.jobs.counts();
    expect(counts.waiting + counts.delayed).toBe(50);
    const bytes = sum(await Promise.all(stored.map((id) => storedBytes(a, id))));
    for (const t of [a, b]) expect(await quotaOf(t, u.token)).toEqual({ pending: 50, pendingBytes: bytes, maxPending: 50, maxPendingBytes: 4 * MiB });
  } finally {
    await close();
  }
});

describe('quota rules (no worker)', () => {
  test('the bytes quota counts the job data as stored; the error says which quota, its limit and the use', async () => {
    const t = await app({ JOB_MAX_PENDING_BYTES_PER_USER: '10000' });
    const u = await registerUser(t);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await enqueue(t, u.token, mail(u.email, {}, 'z'.repeat(3000)))).id);
    const used = sum(await Promise.all(ids.map((id) => storedBytes(t, id))));
    expect(used).toBeLessThanOrEqual(10_000);
    const res = await t.gql(ENQUEUE, { input: mail(u.email, {}, 'z'.repeat(3000)) }, { token: u.token });
    expect(firstError(res)?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'pendingBytes', limit: 10_000, used, requested: used / 3 });
    expect(res.data).toBeNull();
    expect(await quotaOf(t, u.token)).toEqual({ pending: 3, pendingBytes: used, maxPending: 200, maxPendingBytes: 10_000 });
    // A smaller job still fits.
    await expect(enqueue(t, u.token, mail(u.email, {}, 'small'))).resolves.toMatchObject({ state: 'WAITING' });
  });

  test('a batch is all-or-nothing; cancel frees its place; the same holds over WebSocket', async () => {
    const t = await app({ JOB_MAX_PENDING_PER_USER: '5' });
    const u = await registerUser(t);
    const first = await t.gql<{ enqueueJobs: JobView[] }>(ENQUEUE_MANY, { inputs: [0, 1, 2].map(() => mail(u.email)) }, { token: u.token });
    expect(first.data?.enqueueJobs).toHaveLength(3);
    const before = await t.app.services.jobs.counts();
    const over = await t.gql(ENQUEUE_MANY, { inputs: [0, 1, 2].map(() => mail(u.email)) }, { token: u.token });
    expect(firstError(over)?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'pending', limit: 5, used: 3, requested: 3 });
    expect(await t.app.services.jobs.counts()).toEqual(before);
    expect((await quotaOf(t, u.token)).pending).toBe(3);
    const fits = await t.gql<{ enqueueJobs: JobView[] }>(ENQUEUE_MANY, { inputs: [0, 1].map(() => mail(u.email)) }, { token: u.token });
    expect(fits.data?.enqueueJobs).toHaveLength(2);
    expect((await quotaOf(t, u.token)).pending).toBe(5);

    const ws = wsClient(t.url, { token: u.token });
    try {
      const viaWs = await new Promise<{ errors?: Err[] }>((resolve, reject) => {
        let got: { errors?: Err[] } = {};
        ws.subscribe(
          { query: ENQUEUE, variables: { input: mail(u.email) } },
          { next: (v) => (got = v as typeof got), error: reject, complete: () => resolve(got) },
        );
      });
      expect(viaWs.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'pending', limit: 5, used: 5 });
    } finally {
      await ws.dispose();
    }

    const cancelled = await t.gql<{ cancelJob: boolean }>(CANCEL, { id: first.data!.enqueueJobs[0].id }, { token: u.token });
    expect(cancelled.data?.cancelJob).toBe(true);
    expect((await quotaOf(t, u.token)).pending).toBe(4);
    await expect(enqueue(t, u.token, mail(u.email))).resolves.toMatchObject({ state: 'WAITING' });
  });

  test('an idempotent re-enqueue is not counted twice, even at a full quota', async () => {
    const t = await app({ JOB_MAX_PENDING_PER_USER: '3' });
    const u = await registerUser(t);
    const jobs = await Promise.all(Array.from({ length: 20 }, () => enqueue(t, u.token, mail(u.email, { idempotencyKey: 'once' }))));
    expect(new Set(jobs.map((j) => j.id)).size).toBe(1);
    expect((await quotaOf(t, u.token)).pending).toBe(1);
    // One key twice in one batch is one job.
    const twice = await t.gql<{ enqueueJobs: JobView[] }>(
      ENQUEUE_MANY,
      { inputs: [mail(u.email, { idempotencyKey: 'twice' }), mail(u.email, { idempotencyKey: 'twice' })] },
      { token: u.token },
    );
    expect(new Set(twice.data?.enqueueJobs.map((j) => j.id)).size).toBe(1);
    expect((await quotaOf(t, u.token)).pending).toBe(2);
    await enqueue(t, u.token, mail(u.email));
    expect((await quotaOf(t, u.token)).pending).toBe(3);
    // Full: a new job is refused, the existing keyed ones still answer.
    expect(firstError(await t.gql(ENQUEUE, { input: mail(u.email) }, { token: u.token }))?.extensions?.code).toBe('QUOTA_EXCEEDED');
    expect((await enqueue(t, u.token, mail(u.email, { idempotencyKey: 'once' }))).id).toBe(jobs[0].id);
    expect((await quotaOf(t, u.token)).pending).toBe(3);
  });

  test("hostile idempotency keys count one job each and shape no key: the quota keeps to the owner's own keys", async () => {
    const t = await app({ JOB_MAX_PENDING_PER_USER: '6' });
    const u = await registerUser(t);
    const hostile = [`a:{jobs}:quota:u:${u.userId}:jobs`, '}{', 'quota-owners', '../../x', '\\u0000*?[]', '~'.repeat(128)];
    const res = await t.gql<{ enqueueJobs: JobView[] }>(
      ENQUEUE_MANY,
      { inputs: hostile.map((idempotencyKey) => mail(u.email, { idempotencyKey })) },
      { token: u.token },
    );
    expect(new Set(res.data?.enqueueJobs.map((j) => j.id)).size).toBe(hostile.length);
    expect((await quotaOf(t, u.token)).pending).toBe(hostile.length);
    const quotaKeys = [];
    for (let cursor = '0'; ;) {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${t.prefix}:*quota*`, 'COUNT', 1000);
      quotaKeys.push(...found);
      cursor = next;
      if (cursor === '0') break;
    }
    expect(quotaKeys.sort()).toEqual([
      `${t.prefix}:{jobs}:quota-owners`,
      `${t.prefix}:{jobs}:quota:u:${u.userId}:bytes`,
      `${t.prefix}:{jobs}:quota:u:${u.userId}:jobs`,
    ]);
    expect(await redis.smembers(`${t.prefix}:{jobs}:quota-owners`)).toEqual([`u:${u.userId}`]);
  });

  test('admins have a quota too; internal jobs (no owner) are not counted', async () => {
    const t = await app({ JOB_MAX_PENDING_PER_USER: '2' });
    const admin = await adminToken(t);
    await enqueue(t, admin, mail('anyone@example.com'));
    await enqueue(t, admin, mail('anyone@example.com'));
    expect(firstError(await t.gql(ENQUEUE, { input: mail('anyone@example.com') }, { token: admin }))?.extensions?.code).toBe('QUOTA_EXCEEDED');
    for (let i = 0; i < 3; i++) await t.app.services.jobs.enqueueInternal('email.send', { to: 'ops@example.com', subject: `internal ${i}`, body: '' });
    expect((await quotaOf(t, admin)).pending).toBe(2);
  });

  test('myJobQuota needs a signed-in user and starts empty', async () => {
    const t = await app();
    expect(firstError(await t.gql(MY_QUOTA))?.extensions?.code).toBe('UNAUTHENTICATED');
    const u = await registerUser(t);
    expect(await quotaOf(t, u.token)).toEqual({ pending: 0, pendingBytes: 0, maxPending: 200, maxPendingBytes: 4 * MiB });
  });

  test('an add that fails after the reservation leaves no reservation behind', async () => {
    const t = await app();
    const u = await registerUser(t);
    // BullMQ's add script starts with INCR of the queue's id counter: a counter that is no number fails it inside Redis.
    const idKey = `${t.prefix}:{jobs}:id`;
    await redis.set(idKey, 'not-a-number');
    try {
      const res = await t.gql(ENQUEUE, { input: mail(u.email) }, { token: u.token });
      expect(res.data).toBeFalsy();
      expect(res.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect((await quotaOf(t, u.token)).pending).toBe(0);
    } finally {
      await redis.del(idKey);
    }
    await expect(enqueue(t, u.token, mail(u.email))).resolves.toMatchObject({ state: 'WAITING' });
    expect((await quotaOf(t, u.token)).pending).toBe(1);
  });
});

describe("through a job's life (a real worker)", () => {
  const hook = (path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'webhook.deliver',
    data: { url: `${receiver.url}${path}`, payload: { path } },
    ...extra,
  });

  /** A worker for `t`, started and stopped by the test. */
  function runnerFor(t: TestApp): { runner: JobRunner; stop(): Promise<void> } {
    const conn = connect(t.app.redisTarget, { name: 'test-quota-runner', blocking: true });
    const runner = new JobRunner({
      services: t.app.services,
      registry: t.app.services.jobs.types,
      connection: conn,
      commands: t.app.redis,
      keys: t.app.services.keys,
      config: t.app.config,
      log: t.app.log,
    });
    return {
      runner,
      async stop() {
        await runner.close();
        await closeQuietly(conn);
      },
    };
  }

  test('released when an attempt starts; pending again while waiting to retry and after retryJob; released at completion and dead-letter', async () => {
    const t = await app({ JOB_BACKOFF: '1500ms', WEBHOOK_TIMEOUT: '3s' });
    const admin = await adminToken(t);
    const u = await registerUser(t);
    const pending = async (): Promise<number> => (await quotaOf(t, u.token)).pending;
    let failing = true;
    receiver.respond = (d) => (d.path === '/slow' ? { delayMs: 1500 } : d.path === '/flaky' && failing ? { status: 500 } : {});

    const slow = await enqueue(t, u.token, hook('/slow'));
    const flaky = await enqueue(t, u.token, hook('/flaky', { maxAttempts: 2 }));
    expect(await pending()).toBe(2);
    const w = runnerFor(t);
    await w.runner.start();
    try {
      // Running: no longer pending.
      await waitForState(t, u.token, slow.id, 'ACTIVE', 5000);
      await waitFor('slow released at start', async () => (await quotaOf(t, u.token)).pending <= 1);
      // The first attempt failed: DELAYED, waiting for its retry, counted again.
      await waitForState(t, u.token, flaky.id, 'DELAYED', 5000);
      await waitFor('flaky pending again while it waits to retry', async () => (await pending()) === 1, 2000, 20);
      expect((await quotaOf(t, u.token)).pendingBytes).toBe(await storedBytes(t, flaky.id));
      // The second attempt fails too: dead-lettered, not pending.
      await waitForState(t, u.token, flaky.id, 'FAILED', 8000);
      await waitForState(t, u.token, slow.id, 'COMPLETED', 5000);
      await waitFor('nothing pending', async () => (await pending()) === 0, 2000, 20);
    } finally {
      await w.stop();
    }
    // retryJob (admin) sends it back to WAITING: pending again, without the limit check.
    const retried = await t.gql<{ retryJob: JobView }>(RETRY, { id: flaky.id }, { token: admin });
    expect(retried.data?.retryJob.state).toBe('WAITING');
    expect(await pending()).toBe(1);
    failing = false;
    const w2 = runnerFor(t);
    await w2.runner.start();
    try {
      await waitForState(t, u.token, flaky.id, 'COMPLETED', 5000);
      await waitFor('released again', async () => (await pending()) === 0, 2000, 20);
    } finally {
      await w2.stop();
    }
    expect(await quotaOf(t, u.token)).toMatchObject({ pending: 0, pendingBytes: 0 });
  });

  test('a stalled job (its worker gone) counts again once it is back in WAITING', async () => {
    const t = await app({ JOB_LOCK_DURATION: '1s', WORKER_CONCURRENCY: '1', WEBHOOK_TIMEOUT: '10s' });
    const u = await registerUser(t);
    receiver.respond = (d) => (d.path.startsWith('/hang') ? { delayMs: 6000 } : {});
    const stalled = await enqueue(t, u.token, hook('/hang-1'));
    const dying = runnerFor(t);
    await dying.runner.start();
    await waitForState(t, u.token, stalled.id, 'ACTIVE', 5000);
    await waitFor('released at start', async () => (await quotaOf(t, u.token)).pending === 0);
    // The worker stops renewing its lock without finishing, as a killed process would.
    await dying.runner.worker.close(true);
    // Another worker, kept busy, finds the stalled job and puts it back in WAITING.
    const busy = await enqueue(t, u.token, hook('/hang-2'));
    const w = runnerFor(t);
    await w.runner.start();
    try {
      await waitForState(t, u.token, busy.id, 'ACTIVE', 5000);
      await waitForState(t, u.token, stalled.id, 'WAITING', 5000);
      await waitFor('the stalled job counted again', async () => (await quotaOf(t, u.token)).pending === 1, 2000, 20);
      expect((await quotaOf(t, u.token)).pendingBytes).toBe(await storedBytes(t, stalled.id));
    } finally {
      await w.stop();
      await dying.stop();
    }
  });

  test('the recovery sweep drops reservations whose job is gone or no longer waiting or delayed', async () => {
    const graceMs = 4000;
    const t = await app({ JOB_RECOVER_INTERVAL: `${graceMs}ms` });
    const u = await registerUser(t);
    const removedAt = Date.now();
    const removed = await enqueue(t, u.token, mail(u.email));
    const ranElsewhere = await enqueue(t, u.token, mail(u.email));
    const kept = await enqueue(t, u.token, mail(u.email, { delayMs: 3_600_000 }));
    // Drift: one job removed behind the gateway's back, one run by a bare BullMQ worker.
    await t.app.services.jobs.queue.remove(removed.id);
    const conn = connect(t.app.redisTarget, { name: 'test-bare-worker', blocking: true });
    const bare = new Worker(t.app.services.keys.jobQueue, async () => ({}), { connection: conn, prefix: t.app.services.keys.prefix });
    try {
      await waitForState(t, u.token, ranElsewhere.id, 'COMPLETED', 5000);
    } finally {
      await bare.close();
      await closeQuietly(conn);
    }
    expect((await quotaOf(t, u.token)).pending).toBe(3);
    const w = runnerFor(t);
    try {
      await w.runner.recover();
      // The job that finished is dropped at once; the missing one only after a recovery interval (its add may still be on its way).
      expect(Date.now() - removedAt).toBeLessThan(graceMs);
      expect((await quotaOf(t, u.token)).pending).toBe(2);
      await new Promise((r) => setTimeout(r, removedAt + graceMs + 100 - Date.now()));
      await w.runner.recover();
      expect(await quotaOf(t, u.token)).toMatchObject({ pending: 1, pendingBytes: await storedBytes(t, kept.id) });
    } finally {
      await w.stop();
    }
  });
});
