/**
 * A cluster master SIGKILLed under load: its replica takes over, writes to its
 * slots resume, failures in between are SERVICE_UNAVAILABLE, and pub/sub
 * between two gateways delivers again, even when the dead node held the subscriber.
 */
import { loadConfig } from '../../src/config';
import { startApp, type App } from '../../src/app/app';
import { gqlRequest, registerUser, testEnv } from '../helpers/app';
import { startCluster, type TestCluster } from '../helpers/cluster';
import { captureLogger } from '../helpers/logs';

let c: TestCluster;
const apps: App[] = [];
let running = false;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  // Always a private cluster: this test kills one of its nodes.
  c = await startCluster({ nodeTimeoutMs: 1000 });
  const env = testEnv({ REDIS_CLUSTER_NODES: c.seeds, KEY_PREFIX: `test-cfail-${process.pid}` });
  for (let i = 0; i < 2; i++) apps.push(await startApp(loadConfig(env), { log: captureLogger('warn').log }));
}, 60_000);

afterAll(async () => {
  running = false;
  await Promise.all(apps.map((a) => a.close()));
  await c?.stop();
});

interface NodeRow {
  port: number;
  id: string;
  master: boolean;
  masterId: string;
}

async function chooseVictims(app: App): Promise<number[]> {
  // Internals, test only: the port of the node serving this gateway's cluster subscriber.
  const engine = (app.services.pubsub as unknown as { engine: { getSubscriber(): { subscriber: { getInstance(): { options: { port: number } } | null } } } })
    .engine;
  const subPort = engine.getSubscriber().subscriber.getInstance()?.options.port;
  const probe = c.client();
  await new Promise((r) => probe.once('ready', r));
  const text = (await probe.call('CLUSTER', 'NODES')) as string;
  probe.disconnect();
  const rows: NodeRow[] = text
    .trim()
    .split('\n')
    .map((l) => {
      const f = l.split(' ');
      return { id: f[0], port: Number(f[1].split(':')[1].split('@')[0]), master: f[2].includes('master'), masterId: f[3] };
    });
  const sub = rows.find((r) => r.port === subPort);
  expect(sub).toBeDefined();
  if (sub!.master) return [sub!.port];
  const other = rows.find((r) => r.master && r.id !== sub!.masterId)!;
  return [other.port, sub!.port];
}

test('a master dies under load: its slots come back on the replica within 15 s', async () => {
  const [a, b] = apps;
  const url = (app: App): string => `http://127.0.0.1:${app.port}`;
  // Many users, so that sessions sit on every master.
  const users = await Promise.all(Array.from({ length: 12 }, () => registerUser({ gql: (q, v, o) => gqlRequest(url(a), q, v, o) })));
  const received: Array<{ sentAt: number; at: number }> = [];
  await b.services.pubsub.listen<{ sentAt: number }>('cfail', (m) => received.push({ sentAt: m.sentAt, at: Date.now() }));

  // Kill the node holding B's subscriber connection when it is a master; when it is a
  // replica, kill it together with another master, so both a failover and a lost
  // subscriber connection happen.
  const victims = await chooseVictims(b);

  const samples: Array<{ at: number; ok: boolean; code?: string; msg?: string; took?: number }> = [];
  running = true;
  const loop = async (w: number): Promise<void> => {
    for (let i = w; running; i++) {
      const u = users[i % users.length];
      const t0 = Date.now();
      const res = await gqlRequest(url(i % 2 ? a : b), '{ me { id } }', {}, { token: u.token }).catch(() => ({
        status: 0,
        data: null,
        errors: [{ message: 'fetch', extensions: { code: 'FETCH_FAILED' } }],
      }));
      const ok = !res.errors && (res.data as { me?: { id: string } } | null)?.me?.id === u.userId;
      samples.push({ at: Date.now(), ok, code: res.errors?.[0]?.extensions?.code as string | undefined, msg: res.errors?.[0]?.message, took: Date.now() - t0 });
      await sleep(ok ? 10 : 50);
    }
  };
  const publisher = async (): Promise<void> => {
    while (running) {
      await a.services.pubsub.publishAsync('cfail', { sentAt: Date.now() }).catch(() => undefined);
      await sleep(100);
    }
  };
  const loops = [loop(0), loop(1), loop(2), publisher()];
  await sleep(1000);
  expect(samples.filter((s) => !s.ok)).toEqual([]);

  const killedAt = Date.now();
  await Promise.all(victims.map((port) => c.kill(port)));
  // A fixed window: failover takes a few seconds (cluster-node-timeout 1 s plus the election).
  await sleep(9_000);
  running = false;
  await Promise.all(loops);

  const lastFailure = [...samples].reverse().find((s) => !s.ok);
  const recoveredAt = samples.find((s) => s.ok && s.at > (lastFailure?.at ?? killedAt))?.at ?? 0;
  const failures = samples.filter((s) => !s.ok);
  if (process.env.DEBUG_FAILOVER)
    console.log(
      samples
        .filter((s) => s.at > killedAt - 200)
        .map((s) => `${s.at - killedAt} ${s.took} ${s.ok} ${s.code ?? ''} ${s.msg ?? ''}`)
        .join('\n'),
    );
  const firstFailure = failures[0]?.at ?? killedAt;
  console.log(
    `cluster failover: ${samples.length} requests, ${failures.length} failed (${[...new Set(failures.map((f) => f.code))].join(',')}), back after ${recoveredAt - killedAt} ms`,
  );
  expect(recoveredAt).toBeGreaterThan(0);
  expect(recoveredAt - killedAt).toBeLessThan(15_000);
  expect(new Set(failures.map((f) => f.code))).toEqual(new Set(['SERVICE_UNAVAILABLE']));
  // And it stayed back for the rest of the window.
  expect(samples.filter((s) => s.at > recoveredAt).length).toBeGreaterThan(50);
  const heard = received.find((r) => r.sentAt > firstFailure);
  expect(heard).toBeDefined();
  console.log(`cluster failover: pub/sub delivered again ${heard!.at - killedAt} ms after the kill`);
}, 60_000);
