/**
 * Dead letters in bulk through two gateways: retryFailedJobs and purgeFailedJobs answer exactly
 * how many jobs they moved or deleted while a worker runs and jobs keep failing, the type filter
 * holds, a retried job counts in its owner's quota from the moment it moves, large sets are
 * walked in bounded batches, and only admins may act (every call audited).
 */
import { Keys } from '../../src/redis/keys';
import { DeadLetters } from '../../src/services/jobs/dead-letters';
import { registerUser, startTestApp, type TestApp } from '../helpers/app';
import { startInstances, type Instances } from '../helpers/instances';
import { quotaOf, waitFor, webhookReceiver, type Receiver } from '../helpers/jobs';

const RETRY = 'mutation R($type: String) { retryFailedJobs(type: $type) }';
const PURGE = 'mutation P($type: String) { purgeFailedJobs(type: $type) }';
const STATS = '{ queueStats { waiting delayed active completed failed } }';
const ENQUEUE_MANY = 'mutation M($inputs: [EnqueueJobInput!]!) { enqueueJobs(inputs: $inputs) { id } }';
const FAILED = '{ jobs(state: FAILED, limit: 500) { id type attempts error } }';

let receiver: Receiver;
let deadSmtp: string;
beforeAll(async () => {
  receiver = await webhookReceiver();
  receiver.respond = () => ({ status: 500 });
  // A port where nothing listens: email.send over SMTP fails there at once.
  const dead = await webhookReceiver();
  deadSmtp = `smtp://${dead.host}`;
  await dead.close();
});
afterAll(() => receiver.close());

const env = (): Record<string, string> => ({
  WEBHOOK_ALLOWED_HOSTS: receiver.host,
  SMTP_URL: deadSmtp,
  JOB_MAX_ATTEMPTS: '1',
  WORKER_CONCURRENCY: '8',
  JOB_MAX_PENDING_PER_USER: '100000',
});

type Stats = { waiting: number; delayed: number; active: number; completed: number; failed: number };
const stats = async (t: TestApp, admin: string): Promise<Stats> => (await t.gql<{ queueStats: Stats }>(STATS, {}, { token: admin })).data!.queueStats;
const idle = (t: TestApp, admin: string, failed?: number): Promise<Stats> =>
  waitFor(
    'the queue to be idle',
    async () => {
      const s = await stats(t, admin);
      return s.waiting + s.delayed + s.active === 0 && (failed === undefined || s.failed === failed) && s;
    },
    30_000,
  );
const hooks = (n: number, path = '/fail'): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, i) => ({ type: 'webhook.deliver', data: { url: `${receiver.url}${path}`, payload: { i } } }));
async function enqueueMany(t: TestApp, token: string, inputs: Array<Record<string, unknown>>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < inputs.length; i += 100) {
    const r = await t.gql<{ enqueueJobs: Array<{ id: string }> }>(ENQUEUE_MANY, { inputs: inputs.slice(i, i + 100) }, { token });
    if (!r.data?.enqueueJobs) throw new Error(JSON.stringify(r.errors));
    ids.push(...r.data.enqueueJobs.map((j) => j.id));
  }
  return ids;
}
const count = async (t: TestApp, admin: string, query: string, type?: string): Promise<number> => {
  const r = await t.gql<Record<string, number>>(query, { type }, { token: admin });
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return Object.values(r.data!)[0];
};
/** Deliveries per job id (the webhook's Idempotency-Key). */
const deliveries = (): Map<string, number> => {
  const m = new Map<string, number>();
  for (const d of receiver.deliveries) m.set(d.key, (m.get(d.key) ?? 0) + 1);
  return m;
};

describe('with a worker running', () => {
  let two: Instances;
  let user: { token: string; email: string };
  beforeAll(async () => {
    two = await startInstances(env(), { admin: true, a: { WORKER: '1' } });
    user = await registerUser(two.b);
  });
  afterAll(() => two.close());

  test('admins only; the type is checked; nothing failed answers 0', async () => {
    for (const q of [RETRY, PURGE]) {
      expect((await two.a.gql(q, {}, { token: user.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await two.a.gql(q, {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      for (const type of ['', 'Email.Send', 'email', 'email.send:*', '{jobs}', 'a.b'.repeat(30), '../x.y'])
        expect({ type, code: (await two.a.gql(q, { type }, { token: two.admin })).errors?.[0]?.extensions?.code }).toEqual({ type, code: 'BAD_USER_INPUT' });
      expect(await count(two.a, two.admin, q)).toBe(0);
      expect(await count(two.a, two.admin, q, 'no.such-type')).toBe(0);
    }
  });

  test('the type filter: purge one type, retry the other, then purge every type', async () => {
    await enqueueMany(two.b, user.token, [
      ...hooks(12),
      ...Array.from({ length: 7 }, (_, i) => ({ type: 'email.send', data: { to: user.email, subject: `s${i}`, body: 'b' } })),
    ]);
    await idle(two.a, two.admin, 19);
    expect(await count(two.b, two.admin, PURGE, 'webhook.deliver')).toBe(12);
    let failed = (await two.a.gql<{ jobs: Array<{ type: string; attempts: number }> }>(FAILED, {}, { token: two.admin })).data!.jobs;
    expect(failed.map((j) => j.type)).toEqual(Array(7).fill('email.send'));
    expect(await count(two.a, two.admin, RETRY, 'webhook.deliver')).toBe(0);
    expect(await count(two.a, two.admin, RETRY, 'email.send')).toBe(7);
    // They run again (the worker is running) and fail again: 7 failed, each after one fresh attempt.
    await idle(two.a, two.admin, 7);
    failed = (await two.a.gql<{ jobs: typeof failed }>(FAILED, {}, { token: two.admin })).data!.jobs;
    expect(failed.map((j) => [j.type, j.attempts])).toEqual(Array(7).fill(['email.send', 1]));
    expect(await count(two.b, two.admin, PURGE)).toBe(7);
    expect((await stats(two.a, two.admin)).failed).toBe(0);
    const audit = await two.a.gql<{ auditLog: Array<{ action: string; target: string }> }>(
      '{ auditLog(limit: 4) { action target } }',
      {},
      { token: two.admin },
    );
    expect(audit.data?.auditLog.map((e) => [e.action, e.target])).toEqual([
      ['purgeFailedJobs', 'every type: 7 deleted'],
      ['retryFailedJobs', 'email.send: 7 moved'],
      ['retryFailedJobs', 'webhook.deliver: 0 moved'],
      ['purgeFailedJobs', 'webhook.deliver: 12 deleted'],
    ]);
  });

  test('counts are exact while the worker runs and jobs keep failing, with two admins at once', async () => {
    receiver.deliveries.length = 0;
    // More than two batches, so that the two calls' batches interleave.
    const first = await enqueueMany(two.b, user.token, hooks(450));
    await idle(two.a, two.admin, 450);
    // While more jobs fail and the retried ones run (and fail) again, both instances retry at once.
    const [more, retriedA, retriedB] = await Promise.all([
      enqueueMany(two.a, user.token, hooks(100)),
      count(two.a, two.admin, RETRY),
      count(two.b, two.admin, RETRY, 'webhook.deliver'),
    ]);
    await idle(two.a, two.admin, 550);
    // Every job ran once, plus once per time it was retried: the answers are exactly what moved.
    const runs = deliveries();
    const extra = [...first, ...more].reduce((n, id) => n + (runs.get(id) ?? 0) - 1, 0);
    expect(extra).toBe(retriedA + retriedB);
    expect(retriedA + retriedB).toBeGreaterThanOrEqual(450);
    expect(retriedA + retriedB).toBeLessThanOrEqual(550 * 2);
    // No job was retried twice in one call, and each job ran at most three times (once, plus once per call).
    expect(Math.max(...runs.values())).toBeLessThanOrEqual(3);
    expect(await quotaOf(two.b, user.token)).toMatchObject({ pending: 0, pendingBytes: 0 });

    // Purge while jobs keep failing: what both calls deleted plus what is left is every failed job.
    const [later, purgedA, purgedB] = await Promise.all([
      enqueueMany(two.b, user.token, hooks(50)),
      count(two.a, two.admin, PURGE),
      count(two.b, two.admin, PURGE),
    ]);
    const left = await idle(two.a, two.admin);
    expect(purgedA + purgedB + left.failed).toBe(600);
    expect(purgedA + purgedB).toBeGreaterThanOrEqual(550);
    console.log(`retried ${retriedA} + ${retriedB} (jobs run again: ${extra}); purged ${purgedA} + ${purgedB}, ${left.failed} failed meanwhile`);
    const present = await Promise.all(
      [...first, ...more, ...later].map((id) => two.a.gql('query J($id: ID!) { job(id: $id) { id } }', { id }, { token: two.admin })),
    );
    expect(present.filter((r) => r.data?.job).length).toBe(left.failed);
    await count(two.a, two.admin, PURGE);
  });

  test('a large set is walked in bounded batches, and a call stops at its limit', async () => {
    await enqueueMany(two.b, user.token, hooks(30));
    await idle(two.a, two.admin, 30);
    const services = two.a.app.services;
    const small = new DeadLetters(two.a.app.redis, new Keys(two.prefix), services.jobs.queue, services.jobs.quota, { batch: 7, perCall: 20 });
    expect(await small.purge('email.send')).toBe(0);
    expect(await small.purge(null)).toBe(20);
    expect(await small.purge(null)).toBe(10);
    expect(await small.purge(null)).toBe(0);
    expect((await stats(two.a, two.admin)).failed).toBe(0);
  });
});

describe("a retried job counts in its owner's quota from the moment it moves", () => {
  let two: Instances;
  beforeAll(async () => {
    two = await startInstances({ ...env(), JOB_MAX_PENDING_PER_USER: '4' }, { admin: true });
  });
  afterAll(() => two.close());

  test('counted without the limit check; released again when the jobs run; internal jobs have no owner to count', async () => {
    const ann = await registerUser(two.a);
    const bob = await registerUser(two.a);
    // A worker of the same deployment fails the jobs, then stops: nothing runs while the quota is read.
    const worker = await startTestApp({ ...env(), KEY_PREFIX: two.prefix, WORKER: '1' });
    let workerOpen = true;
    try {
      for (const who of [ann, ann, bob]) await enqueueMany(two.a, who.token, hooks(2));
      // One the service enqueued itself: no owner, nobody's quota.
      await two.a.app.services.jobs.enqueueInternal('webhook.deliver', { url: `${receiver.url}/internal`, payload: {} });
      await idle(two.a, two.admin, 7);
      await worker.app.close();
      workerOpen = false;
      expect(await quotaOf(two.a, ann.token)).toMatchObject({ pending: 0, pendingBytes: 0 });
      expect(await count(two.b, two.admin, RETRY)).toBe(7);
      const a = await quotaOf(two.a, ann.token);
      expect(a).toMatchObject({ pending: 4, maxPending: 4 });
      expect(a.pendingBytes).toBeGreaterThan(4 * 50);
      expect(await quotaOf(two.a, bob.token)).toMatchObject({ pending: 2 });
      // Ann is at her limit now: a new job of hers is refused, Bob's is not.
      const refused = await two.a.gql(ENQUEUE_MANY, { inputs: hooks(1) }, { token: ann.token });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'pending', used: 4, limit: 4 });
      expect((await enqueueMany(two.a, bob.token, hooks(1))).length).toBe(1);
      expect((await stats(two.a, two.admin)).waiting).toBe(8);
      // Nothing failed now: a retry moves nothing and counts nothing twice.
      expect(await count(two.a, two.admin, RETRY)).toBe(0);
      expect((await quotaOf(two.a, ann.token)).pending).toBe(4);
    } finally {
      if (workerOpen) await worker.app.close();
    }
    // The jobs run (and fail) again: their places are released.
    const again = await startTestApp({ ...env(), KEY_PREFIX: two.prefix, WORKER: '1' });
    try {
      await idle(two.a, two.admin, 8);
      await waitFor(
        'the quotas to be released',
        async () => (await quotaOf(two.a, ann.token)).pending === 0 && (await quotaOf(two.a, bob.token)).pending === 0,
      );
      expect(await quotaOf(two.a, ann.token)).toMatchObject({ pending: 0, pendingBytes: 0 });
    } finally {
      await again.app.close();
    }
    expect(await count(two.a, two.admin, PURGE)).toBe(8);
  });
});
