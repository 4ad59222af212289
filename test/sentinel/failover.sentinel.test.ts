/**
 * Sentinel failover under load, the primary SIGKILLed each time on a fresh
 * deployment (one primary, one replica, three sentinels):
 *
 * - two gateways, a steady loop of writes (session touch, login, guest sessions):
 *   writes resume within 15 s, failures in between are SERVICE_UNAVAILABLE, and
 *   pub/sub between the gateways delivers again;
 * - two gateways running the job workers (WORKER=1), jobs enqueued before, during
 *   and after the kill, and a graphql-ws client subscribed on one gateway to what
 *   the other produces: every acknowledged job runs to completion with its effect
 *   exactly once, new jobs complete within seconds, and the open subscriptions go
 *   on delivering on the same socket.
 */
import { JobState } from '../../src/services/jobs/job-limits';
import type { Client } from 'graphql-ws';
import Redis from 'ioredis';
import { registerUser, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { startInstances, type Instances } from '../helpers/instances';
import { TRACK_VIEW } from '../helpers/analytics';
import { ENQUEUE, record, type JobView } from '../helpers/jobs';
import { startSentinel, type TestSentinel } from '../helpers/sentinel';
import { uniquePrefix } from '../helpers/redis';
import { wsClient } from '../helpers/ws';

interface Sample {
  at: number;
  ok: boolean;
  code?: string;
  message?: string;
  /** A read an instance may answer from its cache (a session and user checked in the last 800 ms): it tells nothing of recovery. */
  cachedRead?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const sentinelEnv = (s: TestSentinel, prefix: string): Record<string, string> => ({
  REDIS_SENTINELS: s.sentinels,
  REDIS_SENTINEL_MASTER: s.masterName,
  KEY_PREFIX: uniquePrefix(prefix),
});

/**
 * Resolves once the replica holds every write the primary has taken so far. WAIT
 * counts acknowledgements of the calling connection's own last write (a connection
 * that wrote nothing gets the number of connected replicas at once), so this writes
 * a marker first; replication is one ordered stream, so the replica acknowledging
 * the marker acknowledges everything before it, whichever client wrote it.
 */
async function replicated(s: TestSentinel): Promise<void> {
  const primary = new Redis({ port: s.primaryPort, host: '127.0.0.1' });
  try {
    await primary.set('failover-test:replication-marker', String(Date.now()));
    expect(await primary.wait(1, 5000)).toBe(1);
  } finally {
    primary.disconnect();
  }
}

/** The first time a sample that needed Redis succeeded after one that failed after `since`; 0 if none yet. */
function recoveredAfter(samples: Sample[], since: number): number {
  const firstFail = samples.find((x) => x.at > since && !x.ok);
  return (firstFail && samples.find((x) => x.at > firstFail.at && x.ok && !x.cachedRead)?.at) ?? 0;
}

/** Waits until recoveredAfter(samples, since) finds a recovery, up to `timeoutMs`. */
async function untilRecovered(samples: Sample[], since: number, timeoutMs = 20_000): Promise<number> {
  let recoveredAt = 0;
  while (Date.now() - since < timeoutMs && !(recoveredAt = recoveredAfter(samples, since))) await sleep(100);
  return recoveredAt;
}

describe('session and login writes, raw pub/sub', () => {
  let s: TestSentinel;
  let a: TestApp;
  let b: TestApp;
  let pair: Instances | undefined;
  let running = false;

  beforeAll(async () => {
    s = await startSentinel();
    ({ a, b } = pair = await startInstances(sentinelEnv(s, 'sentinel')));
  }, 60_000);

  afterAll(async () => {
    running = false;
    await pair?.close();
    await s?.stop();
  });

  test('the primary dies under load: writes resume within 15 s and pub/sub delivers again', async () => {
    expect(a.app.redisTarget.kind).toBe('sentinel');
    const u = await registerUser(a);
    // Logins go to another account: each one adds a session, and past 10 the oldest (u's) would be evicted.
    const v = await registerUser(a);
    // The session must be on the replica before the primary dies (replication is asynchronous).
    await replicated(s);

    // Pub/sub across the gateways: A publishes every 100 ms (stamped with the send time), B listens.
    const received: Array<{ sentAt: number; at: number }> = [];
    await b.app.services.pubsub.listen<{ sentAt: number }>('failover.test', (m) => received.push({ sentAt: m.sentAt, at: Date.now() }));

    const samples: Sample[] = [];
    running = true;
    const ops = [
      () => a.gql('{ me { id } }', {}, { token: u.token }),
      () => b.gql('{ me { id } }', {}, { token: u.token }),
      () => b.gql('mutation($i: LoginInput!) { login(input: $i) { token } }', { i: { email: v.email, password: v.password } }),
      () => a.gql('mutation { startGuestSession { token } }'),
    ];
    const loop = async (worker: number): Promise<void> => {
      for (let i = worker; running; i++) {
        const res = await ops[i % ops.length]().catch((err: Error) => ({
          status: 0,
          data: null,
          errors: [{ message: err.message, extensions: { code: 'FETCH_FAILED' } }],
        }));
        const okRes =
          !res.errors &&
          res.status === 200 &&
          res.data !== null &&
          res.data !== undefined &&
          (i % ops.length > 1 || (res.data as { me?: { id: string } }).me?.id === u.userId);
        samples.push({
          at: Date.now(),
          ok: okRes,
          code: res.errors?.[0]?.extensions?.code as string | undefined,
          message: res.errors?.[0]?.message,
          cachedRead: i % ops.length < 2,
        });
        await sleep(okRes ? 20 : 100);
      }
    };
    const publisher = async (): Promise<void> => {
      while (running) {
        await a.app.services.pubsub.publishAsync('failover.test', { sentAt: Date.now() }).catch(() => undefined);
        await sleep(100);
      }
    };
    const loops = [loop(0), loop(1), loop(2), publisher()];
    await sleep(1500);
    expect(samples.length).toBeGreaterThan(20);
    expect(samples.filter((x) => !x.ok)).toEqual([]);

    const killedAt = Date.now();
    await s.kill(s.primaryPort);
    // Wait for the first successful write after the kill, then keep the load on for 3 s more.
    const recoveredAt = await untilRecovered(samples, killedAt);
    await sleep(3000);
    running = false;
    await Promise.all(loops);

    const failures = samples.filter((x) => !x.ok);
    const firstFailure = failures[0]?.at ?? killedAt;
    const recovery = recoveredAt - killedAt;
    console.log(
      `sentinel failover: ${samples.length} requests, ${failures.length} failed, first failure ${firstFailure - killedAt} ms after the kill, writes back after ${recovery} ms`,
    );
    expect(recoveredAt).toBeGreaterThan(0);
    expect(recovery).toBeLessThan(15_000);
    // While the primary is gone clients are told to retry, nothing else.
    expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    // Once back, it stays back: no failure a second after recovery.
    expect(samples.filter((x) => x.at > recoveredAt + 1000 && !x.ok)).toEqual([]);
    expect(await s.currentPrimary()).toBe(s.replicaPort);
    // The session made before the failover still works on the promoted replica.
    expect((await a.gql('{ me { id } }', {}, { token: u.token })).data?.me).toEqual({ id: u.userId });

    // Pub/sub: a message sent after the outage began reached the other gateway, within 15 s of the kill.
    const heard = received.find((r) => r.sentAt > firstFailure);
    expect(heard).toBeDefined();
    expect(heard!.at - killedAt).toBeLessThan(15_000);
    expect(received.some((r) => r.sentAt > recoveredAt + 1000)).toBe(true);
    console.log(`sentinel failover: pub/sub delivered again ${heard!.at - killedAt} ms after the kill`);
  }, 60_000);
});

describe('job workers and GraphQL subscriptions', () => {
  /** Jobs each gateway's worker runs at once. */
  const CONCURRENCY = 4;
  let s: TestSentinel;
  let a: TestApp;
  let b: TestApp;
  let pair: Instances | undefined;
  let running = false;
  const clients: Client[] = [];

  beforeAll(async () => {
    s = await startSentinel();
    // A job running when the primary dies may be left ACTIVE on the promoted replica (its
    // completion lost with the primary, or arriving after the lock expired); BullMQ runs it
    // again once its lock expires, and a 2 s lock (default 30 s) keeps that wait short.
    // One user sends the whole load and a burst of 300: room beyond the default quota of 200 pending jobs.
    const env = {
      ...sentinelEnv(s, 'sentinel-jobs'),
      ...ADMIN_ENV,
      WORKER: '1',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      JOB_LOCK_DURATION: '2s',
      JOB_MAX_PENDING_PER_USER: '5000',
    };
    ({ a, b } = pair = await startInstances(env));
  }, 60_000);

  afterAll(async () => {
    running = false;
    await Promise.all(clients.map(async (c) => c.dispose()));
    await pair?.close();
    await s?.stop();
  });

  interface Enqueued extends Sample {
    seq: number;
    sentAt: number;
    id?: string;
  }

  test('the primary dies under load: every acknowledged job completes once, workers take new jobs, subscriptions deliver on the same socket', async () => {
    expect(a.app.config.jobs.runInProcess && b.app.config.jobs.runInProcess).toBe(true);
    const admin = await adminToken(a);
    const u = await registerUser(a);

    // A delayed job due 6 s after the kill: it runs on the promoted replica, and its
    // subscriber on B must see it finish.
    const warmupMs = 1500;
    const due = await a.gql<{ enqueueJob: JobView }>(
      ENQUEUE,
      { input: { type: 'email.send', data: { to: u.email, subject: 'due', body: '' }, delayMs: warmupMs + 6000 } },
      { token: u.token },
    );
    const dueId = due.data!.enqueueJob.id;

    // One WebSocket on B, two subscriptions: every page view (tracked on A, published from
    // A's Redis script) and the delayed job's updates (BullMQ's event stream, read by B).
    const ws = wsClient(b.url, { token: admin });
    clients.push(ws);
    let connects = 0;
    const closes: Array<{ code?: number; reason?: string }> = [];
    ws.on('connected', () => connects++);
    ws.on('closed', (e) => closes.push({ code: (e as { code?: number }).code, reason: (e as { reason?: string }).reason }));
    const views = record<{ analyticsEvents: { page: string } }>(ws, 'subscription { analyticsEvents(types: [PAGE_VIEW]) { page } }');
    const dueUpdates = record<{ jobUpdated: { state: string; finishedAt: string | null } }>(
      ws,
      'subscription J($id: ID!) { jobUpdated(id: $id) { state finishedAt } }',
      { id: dueId },
    );
    await dueUpdates.until((e) => e.length > 0);
    expect(dueUpdates.events[0].data.jobUpdated.state).toBe('DELAYED');

    // Page views on A every 100 ms, each on its own path so that its send time is known.
    const tracked = new Map<string, number>();
    const tracker = async (): Promise<void> => {
      for (let i = 0; running; i++) {
        const page = `/failover/${i}`;
        tracked.set(page, Date.now());
        await a.gql(TRACK_VIEW, { input: { page, visitorId: 'failover' } }).catch(() => undefined);
        await sleep(100);
      }
    };
    // Jobs enqueued through both gateways, alternately, as fast as they are acknowledged.
    const enqueued: Enqueued[] = [];
    let seq = 0;
    const producer = async (t: TestApp): Promise<void> => {
      while (running) {
        const e: Enqueued = { seq: seq++, sentAt: Date.now(), at: 0, ok: false };
        const res = await t
          .gql<{ enqueueJob: JobView }>(
            ENQUEUE,
            { input: { type: 'email.send', data: { to: u.email, subject: `failover ${e.seq}`, body: '' } } },
            { token: u.token },
          )
          .catch((err: Error) => ({ status: 0, data: null, errors: [{ message: err.message, extensions: { code: 'FETCH_FAILED' } }] }));
        e.at = Date.now();
        e.id = res.data?.enqueueJob?.id;
        e.ok = !res.errors && res.status === 200 && !!e.id;
        e.code = res.errors?.[0]?.extensions?.code as string | undefined;
        e.message = res.errors?.[0]?.message;
        enqueued.push(e);
        await sleep(e.ok ? 20 : 100);
      }
    };
    running = true;
    const loops = [tracker(), producer(a), producer(b)];
    await views.until((e) => e.length >= 3);
    await sleep(warmupMs);
    expect(enqueued.length).toBeGreaterThan(20);
    expect(enqueued.filter((x) => !x.ok)).toEqual([]);

    // A burst just before the kill leaves the workers a backlog, so jobs are running when the primary dies.
    const burst = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        a.app.services.jobs.enqueue({ userId: u.userId, admin: false, email: u.email }, 'email.send', { to: u.email, subject: `burst ${i}`, body: '' }, {}),
      ),
    );
    // Replication is asynchronous: Redis acknowledges a write before the replica has it,
    // and Sentinel promotes the replica with whatever it has, so an acknowledgement the
    // replica never received dies with a SIGKILLed primary (documented Redis behaviour,
    // not the gateway's). Only jobs acknowledged before this point, then confirmed on the
    // replica, or sent once the primary was gone, are owed a completion.
    const beforeKill = [...enqueued.filter((x) => x.ok).map((x) => x.id!), ...burst.map((j) => j.id)];
    await replicated(s);
    const killedAt = Date.now();
    await s.kill(s.primaryPort);
    const recoveredAt = await untilRecovered(enqueued, killedAt);
    expect(recoveredAt).toBeGreaterThan(0);
    await sleep(3000);
    running = false;
    await Promise.all(loops);

    const owed = [...beforeKill, ...enqueued.filter((x) => x.ok && x.sentAt > killedAt).map((x) => x.id!)];
    const outbox = async (): Promise<Map<string, Array<{ at: number }>>> => {
      const byJob = new Map<string, Array<{ at: number }>>();
      for (const m of await a.app.services.mail.outbox(100_000)) byJob.set(m.jobId, [...(byJob.get(m.jobId) ?? []), { at: Date.parse(m.at) }]);
      return byJob;
    };
    let mail = await outbox();
    const drainedBy = Date.now() + 15_000;
    while (owed.some((id) => !mail.has(id)) && Date.now() < drainedBy) {
      await sleep(200);
      mail = await outbox();
    }

    // Writes: enqueues failed only while there was no primary, and only as retryable.
    const failures = enqueued.filter((x) => !x.ok);
    expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
    expect(enqueued.filter((x) => x.sentAt > recoveredAt + 1000 && !x.ok)).toEqual([]);
    expect(await s.currentPrimary()).toBe(s.replicaPort);

    // Every owed job has its effect exactly once and is COMPLETED; no job at all has it twice.
    expect(owed.filter((id) => mail.get(id)?.length !== 1)).toEqual([]);
    expect([...mail].filter(([, entries]) => entries.length > 1)).toEqual([]);
    const finals = await Promise.all(owed.map((id) => a.app.services.jobs.snapshot(id)));
    expect(finals.filter((j) => j?.state !== JobState.COMPLETED)).toEqual([]);
    const rerun = finals.filter((j) => j && (j.attempts > 1 || (j.result as { duplicate?: boolean } | null)?.duplicate)).length;
    // Only a job that was running when the primary died may have spent an attempt on it; one taken
    // afterwards waits for the gateway's own connection to be back (src/worker/runner.ts), however the
    // reconnections fall, instead of failing on it (with one attempt left it would be dead-lettered).
    const spent = finals.filter((j) => j!.attempts > 1);
    expect(spent.length).toBeLessThanOrEqual(2 * CONCURRENCY);
    const sentAfterKill = new Set(enqueued.filter((x) => x.ok && x.sentAt > killedAt).map((x) => x.id));
    expect(spent.filter((j) => sentAfterKill.has(j!.id))).toEqual([]);

    // Workers: jobs sent after recovery complete within seconds of their acknowledgement (they
    // queue behind what is left of the burst; a worker that did not come back leaves them undone).
    const later = enqueued.filter((x) => x.ok && x.sentAt > recoveredAt);
    expect(later.length).toBeGreaterThan(20);
    const latency = later.map((x) => mail.get(x.id!)![0].at - x.at);
    expect(Math.max(...latency)).toBeLessThan(5000);
    // The burst was still being worked through when the primary died.
    const burstAfterKill = burst.filter((j) => mail.get(j.id)![0].at > killedAt).length;
    expect(burstAfterKill).toBeGreaterThan(0);
    // Jobs back: the first effect of a job sent after the kill.
    const jobsBackAt = Math.min(...enqueued.filter((x) => x.ok && x.sentAt > killedAt).map((x) => mail.get(x.id!)![0].at));
    expect(jobsBackAt - killedAt).toBeLessThan(15_000);

    // Subscriptions: the same socket, never closed, never reconnected, no error.
    expect(connects).toBe(1);
    expect(closes).toEqual([]);
    expect(views.errors).toEqual([]);
    expect(views.completed).toBe(false);
    expect(dueUpdates.errors).toEqual([]);
    // A page view tracked after the kill reached B's subscriber within 15 s of the kill, and they keep coming.
    const sentOf = (page: string): number => tracked.get(page) ?? 0;
    const heard = views.events.find((e) => sentOf(e.data.analyticsEvents.page) > killedAt);
    expect(heard).toBeDefined();
    expect(heard!.at - killedAt).toBeLessThan(15_000);
    expect(views.events.some((e) => sentOf(e.data.analyticsEvents.page) > recoveredAt + 1000)).toBe(true);
    // The delayed job ran after the failover, and its subscriber on B saw it complete.
    const finished = await dueUpdates.until((e) => e.some((x) => x.jobUpdated.state === 'COMPLETED'), 15_000 - (Date.now() - killedAt));
    const done = dueUpdates.events.find((e) => e.data.jobUpdated.state === 'COMPLETED')!;
    expect(finished.at(-1)!.jobUpdated.state).toBe('COMPLETED');
    expect(Date.parse(done.data.jobUpdated.finishedAt!)).toBeGreaterThan(killedAt);
    expect(done.at - killedAt).toBeLessThan(15_000);
    expect(mail.get(dueId) ?? (await outbox()).get(dueId)).toHaveLength(1);

    console.log(
      [
        `sentinel failover with workers: ${enqueued.length} enqueues, ${failures.length} failed, writes back after ${recoveredAt - killedAt} ms`,
        `jobs: ${owed.length} owed (${beforeKill.length} replicated before the kill, ${burstAfterKill} of a 300-job burst done after it), all completed once (${rerun} after more than one run, ${spent.length} of them having spent an attempt); first job sent after the kill done ${jobsBackAt - killedAt} ms after the kill; ${later.length} sent after recovery done in at most ${Math.max(...latency)} ms`,
        `subscriptions: analyticsEvents delivered again ${heard!.at - killedAt} ms after the kill; jobUpdated COMPLETED of the delayed job ${done.at - killedAt} ms after the kill (${done.at - Date.parse(done.data.jobUpdated.finishedAt!)} ms after it finished)`,
      ].join('\n'),
    );
  }, 75_000);
});
