/**
 * Crash tests with real worker processes (src/worker.ts run by node):
 * SIGKILL with 200 jobs in flight loses nothing and repeats no effect; Redis
 * restarted under a running worker; SIGTERM during a long job.
 */
import type { Client } from 'graphql-ws';
import { registerUser, startTestApp, testEnv, type TestApp } from '../helpers/app';
import {
  record,
  sleep,
  spawnWorker,
  waitFor,
  waitForState,
  webhookReceiver,
  enqueue,
  jobOf,
  quotaOf,
  type JobView,
  type Receiver,
  type WorkerProcess,
} from '../helpers/jobs';
import { ownRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';
import { wsClient } from '../helpers/ws';

jest.setTimeout(60_000);

let receiver: Receiver;
const workers: WorkerProcess[] = [];
const apps: TestApp[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  receiver = await webhookReceiver();
});
afterEach(async () => {
  for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
  for (const a of apps.splice(0)) await a.close();
  receiver.respond = () => ({});
});
afterAll(() => receiver.close());

/** A gateway without workers (to enqueue and inspect) and the env its worker processes share. */
async function setup(extra: Record<string, string> = {}): Promise<{ t: TestApp; workerEnv: Record<string, string | undefined> }> {
  const env = testEnv({ KEY_PREFIX: uniquePrefix('jobs-proc'), WEBHOOK_ALLOWED_HOSTS: receiver.host, SESSION_UA_CHECK: '0', ...extra });
  const t = await startTestApp(env);
  apps.push(t);
  return { t, workerEnv: { ...env, WORKER: undefined, PORT: undefined, LOG_LEVEL: 'info' } };
}

async function worker(env: Record<string, string | undefined>): Promise<WorkerProcess> {
  const w = await spawnWorker(env);
  workers.push(w);
  return w;
}

test('SIGKILL with 200 jobs in flight: all 200 complete, each effect exactly once', async () => {
  const { t, workerEnv } = await setup();
  // JOB_RECOVER_INTERVAL=1s: the recovery sweep repairs the quota drift a SIGKILL leaves (see below).
  const env = { ...workerEnv, WORKER_CONCURRENCY: '40', JOB_LOCK_DURATION: '2s', JOB_RECOVER_INTERVAL: '1s' };
  const u = await registerUser(t);
  const viewer = { userId: u.userId, admin: false, email: u.email };
  receiver.respond = () => ({ delayMs: 300 });
  const emails: string[] = [];
  const hooks: string[] = [];
  for (let i = 0; i < 100; i++) {
    emails.push((await t.app.services.jobs.enqueue(viewer, 'email.send', { to: u.email, subject: `#${i}`, body: 'x' }, {})).id);
    hooks.push((await t.app.services.jobs.enqueue(viewer, 'webhook.deliver', { url: `${receiver.url}/h`, payload: { i } }, {})).id);
  }
  const first = await worker(env);
  await waitFor('60 webhook deliveries under way', async () => receiver.deliveries.length >= 60, 20_000, 5);
  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  const atKill = await t.app.services.jobs.counts();
  expect(atKill.active).toBeGreaterThan(0);

  const second = await worker(env);
  await waitFor('all 200 jobs completed', async () => (await t.app.services.jobs.counts()).completed === 200, 30_000, 100);
  expect(await t.app.services.jobs.counts()).toEqual({ waiting: 0, delayed: 0, active: 0, completed: 200, failed: 0 });
  // Nothing is left reserved: the stalled jobs counted again while they waited and were released
  // when they ran; jobs the killed worker finished just before its pending quota settle are
  // dropped by the second worker's recovery sweep.
  await waitFor('no reservation left', async () => (await quotaOf(t, u.token)).pending === 0, 5000);
  expect((await quotaOf(t, u.token)).pendingBytes).toBe(0);

  // Email: exactly one outbox message per job.
  const outbox = await t.app.services.mail.outbox(1000);
  expect(outbox).toHaveLength(100);
  expect(new Set(outbox.map((m) => m.jobId))).toEqual(new Set(emails));
  // Webhooks: the receiver applies each idempotency key once; redeliveries carry the same key.
  expect(receiver.applied).toEqual(new Set(hooks));
  const redelivered = receiver.deliveries.length - new Set(receiver.deliveries.map((d) => d.key)).size;
  expect(redelivered).toBeLessThanOrEqual(atKill.active);
  console.log(`SIGKILL test: ${atKill.active} jobs active at kill, ${redelivered} webhook redeliveries (same Idempotency-Key), 200/200 completed`);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
});

test('SIGTERM during jobs: a short one finishes, a long one is handed back and run by the next worker; nothing new is taken', async () => {
  const { t, workerEnv } = await setup();
  const env = { ...workerEnv, WORKER_CONCURRENCY: '4', WORKER_SHUTDOWN_GRACE: '1s' };
  const u = await registerUser(t);
  let longRuns = 0;
  receiver.respond = (d) => (d.path === '/short' ? { delayMs: 400 } : d.path === '/long' && longRuns++ === 0 ? { delayMs: 10_000 } : {});
  const first = await worker(env);
  const short = await enqueue(t, u.token, { type: 'webhook.deliver', data: { url: `${receiver.url}/short`, payload: {} } });
  const long = await enqueue(t, u.token, { type: 'webhook.deliver', data: { url: `${receiver.url}/long`, payload: {} } });
  // Watched through the gateway while a separate process runs the job.
  const client = wsClient(t.url, { token: u.token });
  clients.push(client);
  const watch = record<{ jobUpdated: JobView }>(client, 'subscription W($id: ID!) { jobUpdated(id: $id) { state progress } }', { id: short.id });
  await waitFor('both jobs running', async () => receiver.deliveries.length >= 2);

  const stoppedAt = Date.now();
  first.child.kill('SIGTERM');
  // Once the worker says it is stopping, it must take nothing new.
  await waitFor('the worker to start stopping', async () => first.output.join('').includes('"msg":"worker stopping"'));
  const late = await enqueue(t, u.token, { type: 'email.send', data: { to: u.email, subject: 'late', body: '' } });
  expect(await first.exited).toBe(0);
  expect(Date.now() - stoppedAt).toBeLessThan(6000);
  expect(first.output.join('')).toContain('"handedBack":1');

  expect((await jobOf(t, u.token, short.id))?.state).toBe('COMPLETED');
  expect(await jobOf(t, u.token, long.id)).toMatchObject({ state: 'WAITING', error: null });
  expect((await jobOf(t, u.token, late.id))?.state).toBe('WAITING');
  // Handed back to WAITING, the long job counts in its owner's quota again, beside the late one.
  expect((await quotaOf(t, u.token)).pending).toBe(2);
  await watch.until((ev) => ev.some((e) => e.jobUpdated.state === 'COMPLETED'));
  expect(watch.events.at(-1)?.data.jobUpdated).toEqual({ state: 'COMPLETED', progress: 100 });

  await worker(env);
  await waitForState(t, u.token, long.id, 'COMPLETED', 10_000);
  await waitForState(t, u.token, late.id, 'COMPLETED', 10_000);
  await waitFor('no reservation left', async () => (await quotaOf(t, u.token)).pending === 0, 5000);
  const longDeliveries = receiver.deliveries.filter((d) => d.path === '/long');
  expect(longDeliveries.map((d) => d.key)).toEqual([long.id, long.id]);
});

describe('Redis restarted under a running worker', () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await ownRedis();
  });
  afterAll(() => redis.destroy());

  test('the worker reconnects and takes new jobs within seconds', async () => {
    const { t, workerEnv } = await setup({ REDIS_URL: redis.url });
    const u = await registerUser(t);
    await worker({ ...workerEnv, REDIS_URL: redis.url });
    const mail = (i: number): Record<string, unknown> => ({ type: 'email.send', data: { to: u.email, subject: `${i}`, body: '' } });
    const before = await enqueue(t, u.token, mail(1));
    await waitForState(t, u.token, before.id, 'COMPLETED');

    await redis.stop();
    await sleep(1500);
    await redis.restart();
    const back = Date.now();
    // The gateway's own client reconnects too; enqueue as soon as it answers.
    const after = await waitFor('enqueue after restart', () => enqueue(t, u.token, mail(2)), 10_000, 100);
    await waitForState(t, u.token, after.id, 'COMPLETED', 10_000);
    const tookMs = Date.now() - back;
    console.log(`Redis restart: a new job completed ${tookMs} ms after Redis came back`);
    expect(tookMs).toBeLessThan(8000);
    // The job done before the restart is still there (AOF).
    expect((await jobOf(t, u.token, before.id))?.state).toBe('COMPLETED');
  });
});
