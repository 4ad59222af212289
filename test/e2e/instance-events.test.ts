/**
 * The instance list's change feed: every instance that registers appends instance.joined, every
 * one that leaves instance.left (`shutdown` when it deregisters, `lapsed` when another instance
 * finds its heartbeat lapsed), on the instances stream, matching schema/events.schema.json, and
 * admins see them on the domainEvents subscription. Exercised with a spawned worker process, a
 * gateway that stops, and a registry that dies without deregistering.
 */
import type { Client } from 'graphql-ws';
import type Redis from 'ioredis';
import { connect, waitReady } from '../../src/redis/connection';
import { Keys } from '../../src/redis/keys';
import { loadScripts } from '../../src/redis/scripts';
import { InstancesService } from '../../src/services/instances/instances.service';
import { ADMIN_ENV, adminToken, startTestApp, type TestApp } from '../helpers/app';
import { DOMAIN_EVENTS, events, type DomainEventMsg, type Entry } from '../helpers/events';
import { record, sleep, spawnWorker, waitFor, type Recording } from '../helpers/jobs';
import { captureLogger } from '../helpers/logs';
import { rawRedis, testClusterSeeds, testRedisMode, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { wsClient } from '../helpers/ws';

const TTL = 600;
const prefix = uniquePrefix('instance-events');
const env = { KEY_PREFIX: prefix, REGISTRY_HEARTBEAT: '150ms', REGISTRY_TTL: `${TTL}ms`, ...ADMIN_ENV };

let a: TestApp;
let r: Redis;
let ws: Client;
let feed: Recording<{ domainEvents: DomainEventMsg }>;
beforeAll(async () => {
  a = await startTestApp(env);
  r = rawRedis();
  ws = wsClient(a.url, { token: await adminToken(a) });
  feed = record(ws, DOMAIN_EVENTS, { types: ['instance.joined', 'instance.left'] });
  await waitFor('the subscription is live', async () => a.app.services.domainEvents.feed.size === 1);
});
afterAll(async () => {
  feed.stop();
  await ws.dispose();
  r.disconnect();
  await a.close();
});

const stream = (): string => `${prefix}:events:{registry}:instances`;

/** The instances stream's events about `instanceId` (checked against the JSON Schema). */
async function streamEvents(instanceId: string) {
  return events((await r.xrange(stream(), '-', '+')) as Entry[]).filter((e) => (e.data as { instanceId: string }).instanceId === instanceId);
}

/** The subscription's events about `instanceId`, once `n` of them arrived. */
async function seen(instanceId: string, n: number): Promise<DomainEventMsg[]> {
  const mine = (): DomainEventMsg[] => feed.events.map((e) => e.data.domainEvents).filter((e) => e.data.instanceId === instanceId);
  await waitFor(`${n} events about ${instanceId}`, async () => mine().length >= n, 10_000);
  return mine();
}

test('the gateway that starts joins once, and the stream says so in the same step as the registration', async () => {
  const id = a.app.services.instances.id;
  const got = await streamEvents(id);
  expect(got.map((e) => [e.type, e.data])).toEqual([
    [
      'instance.joined',
      {
        instanceId: id,
        role: 'gateway',
        roles: ['gateway'],
        version: expect.any(String),
        address: a.url,
        hostname: expect.any(String),
        pid: process.pid,
        startedAt: expect.any(Number),
        reason: 'registered',
      },
    ],
  ]);
  expect(got[0].source).toBe(id);
  // Heartbeats after the first append nothing more.
  await sleep(4 * 150);
  expect(await streamEvents(id)).toHaveLength(1);
});

test('a standalone worker process joins when it runs and leaves at SIGTERM', async () => {
  const target = testRedisMode() === 'cluster' ? { REDIS_CLUSTER_NODES: testClusterSeeds() } : { REDIS_URL: testRedisUrl() };
  const w = await spawnWorker({ ...target, KEY_PREFIX: prefix, REGISTRY_HEARTBEAT: '150ms', REGISTRY_TTL: `${TTL}ms`, SCRYPT_N: '1024' });
  try {
    const joined = await waitFor('the worker joins', async () => feed.events.find((e) => e.data.domainEvents.data.pid === w.child.pid));
    const id = joined.data.domainEvents.data.instanceId as string;
    expect(joined.data.domainEvents).toMatchObject({
      type: 'instance.joined',
      data: { instanceId: id, role: 'worker', roles: ['worker'], address: null, pid: w.child.pid, reason: 'registered' },
    });
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    const both = await seen(id, 2);
    expect(both.map((e) => [e.type, e.data.reason])).toEqual([
      ['instance.joined', 'registered'],
      ['instance.left', 'shutdown'],
    ]);
    const inStream = await streamEvents(id);
    expect(inStream.map((e) => [e.type, (e.data as { reason: string }).reason, e.source])).toEqual([
      ['instance.joined', 'registered', id],
      ['instance.left', 'shutdown', id],
    ]);
    expect(both.map((e) => e.cursor)).toEqual(
      ((await r.xrange(stream(), '-', '+')) as Entry[]).filter(([, f]) => f[3].includes(`"instanceId":"${id}"`)).map(([entryId]) => entryId),
    );
  } finally {
    if (w.child.exitCode === null) w.child.kill('SIGKILL');
  }
});

test('a gateway (with workers) that stops leaves at once, with every role it ran', async () => {
  const c = await startTestApp({ ...env, WORKER: '1' });
  const id = c.app.services.instances.id;
  await c.app.close(); // not c.close(): that would flush the shared prefix
  const both = await seen(id, 2);
  expect(both.map((e) => [e.type, e.data.role, e.data.roles, e.data.address, e.data.reason])).toEqual([
    ['instance.joined', 'gateway', ['gateway', 'worker'], c.url, 'registered'],
    ['instance.left', 'gateway', ['gateway', 'worker'], c.url, 'shutdown'],
  ]);
});

test('an instance that dies without deregistering leaves as `lapsed`, told by an instance still alive', async () => {
  const client = connect(a.app.redisTarget, { name: 'test-registry' });
  client.on('error', () => undefined);
  loadScripts();
  await waitReady(client);
  const dying = new InstancesService(client, new Keys(prefix), { heartbeatMs: 150, ttlMs: TTL }, captureLogger().log);
  await dying.start('worker');
  client.disconnect(); // as if SIGKILLed: no deregistration
  const both = await seen(dying.id, 2);
  expect(both.map((e) => [e.type, e.data.reason])).toEqual([
    ['instance.joined', 'registered'],
    ['instance.left', 'lapsed'],
  ]);
  // The live gateway's heartbeat (or a listing) found it lapsed: the event is in that instance's name, and only once.
  const inStream = await streamEvents(dying.id);
  expect(inStream.map((e) => [e.type, e.source])).toEqual([
    ['instance.joined', dying.id],
    ['instance.left', a.app.services.instances.id],
  ]);
  expect(Date.parse(inStream[1].occurredAt) - Date.parse(inStream[0].occurredAt)).toBeGreaterThanOrEqual(TTL - 50);
  await dying.stop();
  await sleep(300);
  expect(await streamEvents(dying.id)).toHaveLength(2);
});
