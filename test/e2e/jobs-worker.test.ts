/** Jobs run by real in-process workers on real Redis: effects, priority order, delay, backoff, dead letters, retry, cancel. */
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { CANCEL, RETRY, enqueue, jobOf, sleep, waitFor, waitForState, webhookReceiver, type JobView, type Receiver } from '../helpers/jobs';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { connect, closeQuietly } from '../../src/redis/connection';
import { JobRunner } from '../../src/worker/job-runner';

let t: TestApp;
let receiver: Receiver;
let deadHost: string;
let admin: string;
let user: { token: string; userId: string; email: string };

const BACKOFF_MS = 200;

beforeAll(async () => {
  receiver = await webhookReceiver();
  // An allowed host where nothing listens.
  const dead = await webhookReceiver();
  deadHost = dead.host;
  await dead.close();
  receiver.respond = (d) => {
    if (d.path.startsWith('/fail')) return { status: 500 };
    if (d.path.startsWith('/slow')) return { delayMs: 600 };
    if (d.path.startsWith('/hang')) return { delayMs: 3000 };
    return {};
  };
  t = await startTestApp({
    ...ADMIN_ENV,
    WORKER: '1',
    WORKER_CONCURRENCY: '4',
    JOB_BACKOFF: `${BACKOFF_MS}ms`,
    WEBHOOK_TIMEOUT: '1s',
    WEBHOOK_ALLOWED_HOSTS: `${receiver.host},${deadHost}`,
  });
  admin = await adminToken(t);
  user = await registerUser(t);
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

const hook = (path: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'webhook.deliver',
  data: { url: `${receiver.url}${path}`, payload: { path } },
  ...extra,
});
const deliveriesTo = (path: string) => receiver.deliveries.filter((d) => d.path === path);

test('email.send lands in the outbox once, reaches progress 100 and COMPLETED', async () => {
  // A customer's email.send goes to the customer's own address.
  const job = await enqueue(t, user.token, { type: 'email.send', data: { to: user.email, subject: 'Welcome', body: 'Hello Ann' } });
  const done = await waitForState(t, user.token, job.id, 'COMPLETED');
  expect(done).toMatchObject({ progress: 100, attempts: 1, error: null, result: { transport: 'outbox', duplicate: false } });
  expect(Date.parse(done.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
  const mail = (await t.app.services.mail.outbox(100)).filter((m) => m.jobId === job.id);
  expect(mail).toEqual([expect.objectContaining({ to: user.email, subject: 'Welcome', body: 'Hello Ann', from: 'gateway@localhost' })]);
});

test('a re-run of an email job adds no second copy to the outbox', async () => {
  const msg = { to: 'bo@example.com', subject: 'Once', body: 'only once' };
  const runs = await Promise.all(Array.from({ length: 5 }, () => t.app.services.mail.send('jrerun', msg)));
  expect(runs.filter((r) => !r.duplicate)).toHaveLength(1);
  expect((await t.app.services.mail.outbox(1000)).filter((m) => m.jobId === 'jrerun')).toHaveLength(1);
});

test('webhook.deliver POSTs the payload as JSON with the job id as Idempotency-Key', async () => {
  const job = await enqueue(t, user.token, hook('/ok'));
  const done = await waitForState(t, user.token, job.id, 'COMPLETED');
  expect(done.result).toEqual({ status: 200 });
  expect(deliveriesTo('/ok')).toEqual([expect.objectContaining({ key: job.id, body: { path: '/ok' } })]);
});

test('failed attempts back off exponentially with jitter, then the job is dead-lettered with its last error', async () => {
  const job = await enqueue(t, user.token, hook('/fail-3', { maxAttempts: 3 }));
  // Between attempts the job waits for its next one as DELAYED, showing the error so far.
  const waiting = await waitForState(t, user.token, job.id, 'DELAYED', 5000);
  expect(waiting).toMatchObject({ attempts: 1, error: 'webhook answered HTTP 500' });
  const failed = await waitForState(t, user.token, job.id, 'FAILED');
  expect(failed).toMatchObject({ attempts: 3, maxAttempts: 3, error: 'webhook answered HTTP 500' });
  expect(failed.finishedAt).not.toBeNull();
  const attempts = deliveriesTo('/fail-3');
  expect(attempts).toHaveLength(3);
  expect(new Set(attempts.map((a) => a.key))).toEqual(new Set([job.id]));
  const gaps = [attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at];
  // 200 ms then 400 ms, each less up to 20% jitter, plus scheduling slack.
  expect(gaps[0]).toBeGreaterThanOrEqual(BACKOFF_MS * 0.8 - 5);
  expect(gaps[0]).toBeLessThan(BACKOFF_MS + 400);
  expect(gaps[1]).toBeGreaterThanOrEqual(BACKOFF_MS * 2 * 0.8 - 5);
  expect(gaps[1]).toBeLessThan(BACKOFF_MS * 2 + 400);
  // The failed job stays for inspection.
  const list = await t.gql<{ jobs: JobView[] }>('{ jobs(state: FAILED) { id error } }', {}, { token: admin });
  expect(list.data?.jobs).toContainEqual({ id: job.id, error: 'webhook answered HTTP 500' });
});

test('retryJob (admin) sends a FAILED job back to WAITING with fresh attempts; it then runs', async () => {
  const job = await enqueue(t, user.token, hook('/fail-then-ok', { maxAttempts: 1 }));
  await waitForState(t, user.token, job.id, 'FAILED');
  expect((await t.gql(RETRY, { id: job.id }, { token: user.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  const before = receiver.respond;
  receiver.respond = (d) => (d.path === '/fail-then-ok' ? {} : before(d));
  try {
    const res = await t.gql<{ retryJob: JobView }>(RETRY, { id: job.id }, { token: admin });
    expect(res.data?.retryJob).toMatchObject({ id: job.id, state: expect.stringMatching(/WAITING|ACTIVE|COMPLETED/), error: null });
    const done = await waitForState(t, user.token, job.id, 'COMPLETED');
    expect(done.attempts).toBe(1);
    expect(deliveriesTo('/fail-then-ok').map((d) => d.key)).toEqual([job.id, job.id]);
  } finally {
    receiver.respond = before;
  }
  expect((await t.gql(RETRY, { id: job.id }, { token: admin })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect((await t.gql(RETRY, { id: 'jnope' }, { token: admin })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('an unreachable target and a timeout fail the attempt', async () => {
  const refused = await enqueue(t, user.token, { type: 'webhook.deliver', data: { url: `http://${deadHost}/x`, payload: {} }, maxAttempts: 1 });
  const hung = await enqueue(t, user.token, { ...hook('/hang'), maxAttempts: 1 });
  expect((await waitForState(t, user.token, refused.id, 'FAILED', 5000)).error).toBe('webhook unreachable: ECONNREFUSED');
  expect((await waitForState(t, user.token, hung.id, 'FAILED', 5000)).error).toBe('webhook unreachable: timed out');
});

test('a delayed job does not run before its delay and runs soon after', async () => {
  const started = Date.now();
  const job = await enqueue(t, user.token, hook('/delayed', { delayMs: 700 }));
  expect(job.state).toBe('DELAYED');
  await waitForState(t, user.token, job.id, 'COMPLETED', 5000);
  const ranAt = deliveriesTo('/delayed')[0].at;
  expect(ranAt - started).toBeGreaterThanOrEqual(700);
  expect(ranAt - started).toBeLessThan(700 + 1500);
});

test('a running job cannot be cancelled; it completes', async () => {
  const job = await enqueue(t, user.token, hook('/slow'));
  await waitForState(t, user.token, job.id, 'ACTIVE', 5000);
  expect((await t.gql<{ cancelJob: boolean }>(CANCEL, { id: job.id }, { token: user.token })).data?.cancelJob).toBe(false);
  await waitForState(t, user.token, job.id, 'COMPLETED', 5000);
});

test('jobs run highest priority first, FIFO within a priority', async () => {
  // A second app on its own prefix with no worker: everything is queued before one worker starts.
  const q = await startTestApp({ WORKER: '0', WORKER_CONCURRENCY: '1' });
  const u = await registerUser(q);
  const priorities = [0, 5, -3, 5, 10, 0, 1000, -1000];
  for (const [i, priority] of priorities.entries()) {
    await enqueue(q, u.token, { type: 'email.send', data: { to: u.email, subject: `#${i} p${priority}`, body: '' }, priority });
  }
  const conn = connect(q.app.redisTarget, { name: 'test-runner', blocking: true });
  const runner = new JobRunner({
    services: q.app.services,
    registry: q.app.services.jobs.types,
    connection: conn,
    keys: q.app.services.keys,
    config: q.app.config,
    log: q.app.log,
  });
  try {
    await runner.start();
    await waitFor('all jobs done', async () => (await q.app.services.jobs.counts()).completed === priorities.length);
    const order = (await q.app.services.mail.outbox(100)).reverse().map((m) => m.subject);
    expect(order).toEqual(['#6 p1000', '#4 p10', '#1 p5', '#3 p5', '#0 p0', '#5 p0', '#2 p-3', '#7 p-1000']);
  } finally {
    await runner.close();
    await closeQuietly(conn);
    await q.close();
  }
});

test('completed jobs are kept up to JOB_KEEP_COMPLETED', async () => {
  const q = await startTestApp({ WORKER: '1', JOB_KEEP_COMPLETED: '3' });
  const u = await registerUser(q);
  try {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await enqueue(q, u.token, { type: 'email.send', data: { to: u.email, subject: `${i}`, body: '' } })).id);
    await waitFor('the last job done', async () => (await jobOf(q, u.token, ids[5]))?.state === 'COMPLETED');
    await sleep(100);
    expect((await q.app.services.jobs.counts()).completed).toBe(3);
    expect(await jobOf(q, u.token, ids[0])).toBeNull();
  } finally {
    await q.close();
  }
});

test('checkout enqueues order.process internally; the worker completes the order; the buyer and admins see that job, nobody else', async () => {
  await upsert(t, admin, { id: 'jobs-p1', stock: 5 });
  const buyer = await registerUser(t);
  await addToCart(t, buyer.token, 'jobs-p1', 2);
  const order = (await checkout(t, buyer.token)).data?.checkout as { id: string };
  await waitFor(
    'order completed',
    async () => (await t.gql(`query O($id: ID!) { order(id: $id) { status } }`, { id: order.id }, { token: buyer.token })).data?.order.status === 'COMPLETED',
  );
  const job = await jobOf(t, admin, `order-${order.id}`);
  expect(job).toMatchObject({ type: 'order.process', state: 'COMPLETED', data: { orderId: order.id } });
  // The job belongs to the buyer; anyone else gets null, as for a job that does not exist.
  expect(await jobOf(t, buyer.token, `order-${order.id}`)).toMatchObject({ type: 'order.process', state: 'COMPLETED' });
  const stranger = await registerUser(t);
  expect(await jobOf(t, stranger.token, `order-${order.id}`)).toBeNull();
});
