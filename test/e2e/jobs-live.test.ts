/**
 * Live job updates over a real graphql-ws client connected to ANOTHER gateway
 * instance than the one running the worker: progress and state changes arrive
 * within a second; only the owner and admins may watch; queueStatsUpdated is
 * admin-only and pushed at most once a second.
 */
import type { Client } from 'graphql-ws';
import { registerUser, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { CANCEL, JOB_FIELDS, enqueue, record, sleep, type JobView } from '../helpers/jobs';
import { uniquePrefix } from '../helpers/redis';
import { wsClient } from '../helpers/ws';
import type { JobHandler } from '../../src/services/jobs/job-handler';

let worker: TestApp; // runs the jobs
let other: TestApp; // serves the subscriptions
let admin: string;
let owner: { token: string; userId: string; email: string };
const clients: Client[] = [];
const reported: Array<{ progress: number; at: number }> = [];

const progressJob: JobHandler<{ steps: number[] }> = {
  type: 'test.progress',
  validate: (d) => d as { steps: number[] },
  async run(job) {
    for (const p of job.data.steps) {
      await sleep(120);
      reported.push({ progress: p, at: Date.now() });
      await job.updateProgress(p);
    }
    return { done: true };
  },
};

const two = twoInstances({ KEY_PREFIX: uniquePrefix('jobs-live'), SESSION_UA_CHECK: '0' }, { admin: true, a: { WORKER: '1' }, b: { WORKER: '0' } });
beforeAll(async () => {
  ({ a: worker, b: other, admin } = two);
  worker.app.services.jobs.types.register(progressJob);
  owner = await registerUser(worker);
});
afterAll(async () => {
  await Promise.all(clients.map(async (c) => c.dispose()));
});

const ws = (token?: string): Client => {
  const c = wsClient(other.url, { token });
  clients.push(c);
  return c;
};
const WATCH = `subscription W($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`;
type Update = { jobUpdated: JobView };

test('progress and state changes of a job run on one instance reach a subscriber on another within a second', async () => {
  const job = await enqueue(worker, owner.token, { type: 'test.progress', data: { steps: [25, 50, 75, 100] }, delayMs: 400 });
  const rec = record<Update>(ws(owner.token), WATCH, { id: job.id });
  const updates = (await rec.until((ev) => ev.some((e) => e.jobUpdated.state === 'COMPLETED'), 8000)).map((e) => e.jobUpdated);
  expect(rec.errors).toEqual([]);
  expect(updates[0]).toMatchObject({ id: job.id, state: 'DELAYED', progress: 0 });
  expect(updates.at(-1)).toMatchObject({ state: 'COMPLETED', progress: 100, attempts: 1, result: { done: true } });
  const running = updates.filter((u) => u.state === 'ACTIVE');
  expect(running.map((u) => u.progress)).toEqual(expect.arrayContaining([25, 50, 75]));
  // Progress never goes back.
  const seen = updates.map((u) => u.progress);
  expect(seen).toEqual([...seen].sort((x, y) => x - y));
  for (const r of reported.filter((x) => x.progress < 100)) {
    const arrived = rec.events.find((e) => e.data.jobUpdated.progress >= r.progress);
    expect(arrived).toBeDefined();
    expect(arrived!.at - r.at).toBeLessThan(1000);
  }
  rec.stop();
});

test('only the owner and admins may watch a job; anyone else gets NOT_FOUND, as for an unknown id', async () => {
  const job = await enqueue(worker, owner.token, { type: 'email.send', data: { to: owner.email, subject: 's', body: 'b' }, delayMs: 60_000 });
  const stranger = await registerUser(worker);
  const denied = record(ws(stranger.token), WATCH, { id: job.id });
  const unknown = record(ws(stranger.token), WATCH, { id: 'jnosuchjob' });
  const anonymous = record(ws(), WATCH, { id: job.id });
  const asAdmin = record<Update>(ws(admin), WATCH, { id: job.id });
  await denied.until(() => false, 3000).catch(() => undefined);
  await unknown.until(() => false, 3000).catch(() => undefined);
  await anonymous.until(() => false, 3000).catch(() => undefined);
  expect(denied.events).toEqual([]);
  expect(denied.errors[0]?.extensions?.code).toBe('NOT_FOUND');
  expect(denied.errors[0]?.message).toBe(unknown.errors[0]?.message);
  expect(anonymous.errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await asAdmin.until((ev) => ev.length > 0))[0].jobUpdated).toMatchObject({ id: job.id, state: 'DELAYED' });
  asAdmin.stop();
});

test('a cancelled job ends its subscriptions', async () => {
  const job = await enqueue(worker, owner.token, { type: 'email.send', data: { to: owner.email, subject: 's', body: 'b' }, delayMs: 60_000 });
  const rec = record<Update>(ws(owner.token), WATCH, { id: job.id });
  await rec.until((ev) => ev.length > 0);
  expect((await worker.gql<{ cancelJob: boolean }>(CANCEL, { id: job.id }, { token: owner.token })).data?.cancelJob).toBe(true);
  await rec.until(() => false, 3000).catch(() => undefined);
  expect(rec.completed).toBe(true);
  expect(rec.errors).toEqual([]);
});

test('queueStatsUpdated is admin-only, starts with the counts and is pushed at most once a second while jobs change', async () => {
  const STATS = 'subscription { queueStatsUpdated { waiting delayed active completed failed } }';
  const denied = record(ws(owner.token), STATS);
  await denied.until(() => false, 2000).catch(() => undefined);
  expect(denied.errors[0]?.extensions?.code).toBe('FORBIDDEN');

  type Stats = { queueStatsUpdated: Record<string, number> };
  const rec = record<Stats>(ws(admin), STATS);
  const [first] = await rec.until((ev) => ev.length > 0);
  const completedBefore = first.queueStatsUpdated.completed;
  const started = Date.now();
  const N = 30;
  for (let i = 0; i < N; i++) {
    await enqueue(worker, owner.token, { type: 'email.send', data: { to: owner.email, subject: `${i}`, body: '' } });
    await sleep(2500 / N);
  }
  await rec.until((ev) => ev.at(-1)!.queueStatsUpdated.completed >= completedBefore + N, 5000);
  const pushes = rec.events.slice(1).filter((e) => e.at >= started);
  expect(pushes.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < pushes.length; i++) expect(pushes[i].at - pushes[i - 1].at).toBeGreaterThan(900);
  rec.stop();
});
