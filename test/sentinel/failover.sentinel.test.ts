/**
 * Sentinel failover under load: two gateways on REDIS_SENTINELS, a steady loop of
 * writes (session touch, login, guest sessions), the primary SIGKILLed. Writes must
 * resume within 15 s, failures in between must be SERVICE_UNAVAILABLE, and pub/sub
 * between the gateways must deliver again.
 */
import Redis from 'ioredis';
import { registerUser, startTestApp, type TestApp } from '../helpers/app';
import { startSentinel, type TestSentinel } from '../helpers/sentinel';
import { uniquePrefix } from '../helpers/redis';

let s: TestSentinel;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  s = await startSentinel();
  const env = { REDIS_SENTINELS: s.sentinels, REDIS_SENTINEL_MASTER: s.masterName, KEY_PREFIX: uniquePrefix('sentinel') };
  a = await startTestApp(env);
  b = await startTestApp(env);
}, 60_000);

afterAll(async () => {
  await a?.close();
  await b?.close();
  await s?.stop();
});

interface Sample {
  at: number;
  ok: boolean;
  code?: string;
  message?: string;
}

let running = false;
afterEach(() => {
  running = false;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the primary dies under load: writes resume within 15 s and pub/sub delivers again', async () => {
  expect(a.app.redisTarget.kind).toBe('sentinel');
  const u = await registerUser(a);
  // Logins go to another account: each one adds a session, and past 10 the oldest (u's) would be evicted.
  const v = await registerUser(a);
  // The session must be on the replica before the primary dies (replication is asynchronous).
  const primary = new Redis({ port: s.primaryPort, host: '127.0.0.1' });
  expect(await primary.wait(1, 5000)).toBe(1);
  primary.disconnect();

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
      const res = await ops[i % ops.length]().catch((err: Error) => ({ status: 0, data: null, errors: [{ message: err.message, extensions: { code: 'FETCH_FAILED' } }] }));
      const okRes = !res.errors && res.status === 200 && res.data != null && (i % ops.length > 1 || (res.data as { me?: { id: string } }).me?.id === u.userId);
      samples.push({ at: Date.now(), ok: okRes, code: res.errors?.[0]?.extensions?.code as string | undefined, message: res.errors?.[0]?.message });
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
  let recoveredAt = 0;
  while (Date.now() - killedAt < 20_000 && !recoveredAt) {
    await sleep(100);
    const firstFail = samples.find((x) => x.at > killedAt && !x.ok);
    const okAfter = firstFail && samples.find((x) => x.at > firstFail.at && x.ok);
    if (okAfter) recoveredAt = okAfter.at;
  }
  await sleep(3000);
  running = false;
  await Promise.all(loops);

  const failures = samples.filter((x) => !x.ok);
  const firstFailure = failures[0]?.at ?? killedAt;
  const recovery = recoveredAt - killedAt;
  console.log(`sentinel failover: ${samples.length} requests, ${failures.length} failed, first failure ${firstFailure - killedAt} ms after the kill, writes back after ${recovery} ms`);
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
