/**
 * The instance list: gateways and standalone workers register themselves (gateways with their
 * address) and version, heartbeat, leave at shutdown, and drop out within one TTL when they die.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect, waitReady } from '../../src/redis/connection';
import { loadScripts } from '../../src/redis/scripts';
import { Keys } from '../../src/redis/keys';
import { InstancesService } from '../../src/services/instances/instances.service';
import { ADMIN_ENV, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { captureLogger } from '../helpers/logs';
import { spawnWorker } from '../helpers/jobs';
import { testClusterSeeds, testRedisMode, testRedisUrl, uniquePrefix } from '../helpers/redis';

const TTL = 600;
const prefix = uniquePrefix('registry');
const env = { KEY_PREFIX: prefix, REGISTRY_HEARTBEAT: '150ms', REGISTRY_TTL: `${TTL}ms`, ...ADMIN_ENV };
const version = (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
const QUERY = '{ instances { id role roles version address hostname pid startedAt lastHeartbeatAt expiresAt } }';

interface Inst {
  id: string;
  role: string;
  roles: string[];
  version: string;
  address: string | null;
  pid: number;
  startedAt: string;
  lastHeartbeatAt: string;
  expiresAt: string;
}

let a: TestApp;
let b: TestApp;
let admin: string;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const two = twoInstances(env, { admin: true });
beforeAll(() => ({ a, b, admin } = two));

async function instances(): Promise<Inst[]> {
  const res = await a.gql<{ instances: Inst[] }>(QUERY, {}, { token: admin });
  expect(res.errors).toBeUndefined();
  return res.data!.instances;
}

/** A registry of its own Redis connection, so it can "die" without deregistering. */
async function standaloneRegistry(app: TestApp): Promise<{ registry: InstancesService; kill(): void }> {
  const client = connect(app.app.redisTarget, { name: 'test-registry' });
  client.on('error', () => undefined);
  loadScripts();
  await waitReady(client);
  const registry = new InstancesService(client, new Keys(prefix), { heartbeatMs: 150, ttlMs: TTL }, captureLogger().log);
  return { registry, kill: () => client.disconnect() };
}

test('both gateways are listed with their address, version and start time, and keep heartbeating', async () => {
  const list = await instances();
  const gateways = list.filter((i) => i.role === 'GATEWAY');
  expect(gateways.map((g) => g.id).sort()).toEqual([a.app.services.instances.id, b.app.services.instances.id].sort());
  for (const g of gateways) {
    expect(g).toMatchObject({ roles: ['GATEWAY'], version, pid: process.pid });
    expect([a.url, b.url]).toContain(g.address);
    expect(Date.now() - Date.parse(g.startedAt)).toBeLessThan(60_000);
    expect(Date.parse(g.expiresAt) - Date.parse(g.lastHeartbeatAt)).toBe(TTL);
  }
  // Three TTLs later they are still there, with fresher heartbeats.
  await sleep(3 * TTL);
  const later = await instances();
  for (const g of gateways) {
    const now = later.find((i) => i.id === g.id);
    expect(now).toBeDefined();
    expect(Date.parse(now!.lastHeartbeatAt)).toBeGreaterThan(Date.parse(g.lastHeartbeatAt));
  }
});

test('a worker registers without an address; a dead process drops out within one TTL', async () => {
  const w = await standaloneRegistry(a);
  await w.registry.start('worker');
  const listed = (await instances()).find((i) => i.id === w.registry.id);
  expect(listed).toMatchObject({ role: 'WORKER', roles: ['WORKER'], address: null, version });

  w.kill(); // no deregistration: as if SIGKILLed
  const diedAt = Date.now();
  let goneAfter = -1;
  while (Date.now() - diedAt < TTL * 3) {
    if (!(await instances()).some((i) => i.id === w.registry.id)) {
      goneAfter = Date.now() - diedAt;
      break;
    }
    await sleep(25);
  }
  expect(goneAfter).toBeGreaterThanOrEqual(0);
  expect(goneAfter).toBeLessThanOrEqual(TTL + 100);
  await w.registry.stop();
});

test('a second start adds a role to the same entry', async () => {
  const w = await standaloneRegistry(a);
  await w.registry.start('gateway', 'http://10.0.0.9:4000');
  await w.registry.start('worker');
  expect((await instances()).find((i) => i.id === w.registry.id)).toMatchObject({
    role: 'GATEWAY',
    roles: ['GATEWAY', 'WORKER'],
    address: 'http://10.0.0.9:4000',
  });
  await w.registry.stop();
  expect((await instances()).some((i) => i.id === w.registry.id)).toBe(false);
  w.kill();
});

test('a gateway that shuts down leaves the registry at once', async () => {
  const c = await startTestApp(env);
  const id = c.app.services.instances.id;
  expect((await instances()).some((i) => i.id === id)).toBe(true);
  await c.app.close(); // not c.close(): that would also flush the shared prefix
  expect((await instances()).some((i) => i.id === id)).toBe(false);
});

test('instances is for admins only', async () => {
  const u = await registerUser(a);
  expect((await a.gql(QUERY, {}, { token: u.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await a.gql(QUERY)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
});

test('a standalone worker process (npm run worker) is in the list as a WORKER, and leaves it at SIGTERM', async () => {
  // The Redis the gateways use: the run's Cluster under test:cluster, else the single one.
  const target = testRedisMode() === 'cluster' ? { REDIS_CLUSTER_NODES: testClusterSeeds() } : { REDIS_URL: testRedisUrl() };
  const w = await spawnWorker({ ...target, KEY_PREFIX: prefix, REGISTRY_HEARTBEAT: '150ms', REGISTRY_TTL: `${TTL}ms`, SCRYPT_N: '1024' });
  try {
    const listed = await (async () => {
      for (let i = 0; i < 40; i++) {
        const found = (await instances()).find((x) => x.pid === w.child.pid);
        if (found) return found;
        await sleep(50);
      }
      return undefined;
    })();
    expect(listed).toMatchObject({ role: 'WORKER', roles: ['WORKER'], address: null, version });
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    // Gone at once: it deregistered, rather than waiting out its TTL.
    expect((await instances()).some((x) => x.pid === w.child.pid)).toBe(false);
  } finally {
    if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
});
