/**
 * SIGTERM on a real gateway process: an in-flight HTTP request completes,
 * WebSocket clients get close 1001, new connections are refused, Redis clients
 * QUIT, and the process exits 0 within 10 s.
 */
import { request as httpRequest } from 'node:http';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { buildGateway, type Build } from '../helpers/build';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process';
import { ownRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';

jest.setTimeout(60_000);

const UA = 'node-shutdown-test';

let build: Build;
let redis: OwnRedis;

beforeAll(async () => {
  [build, redis] = await Promise.all([buildGateway(), ownRedis()]);
});
afterAll(async () => {
  await redis?.destroy();
  build?.remove();
});

async function start(): Promise<{ gw: GatewayProcess; url: string }> {
  const gw = spawnGateway(build.entry, {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redis.url,
    KEY_PREFIX: uniquePrefix('shutdown'),
    LOG_LEVEL: 'info',
    RATE_LIMIT_DEFAULT: 'off',
    SCRYPT_N: '1024',
    WORKER: '0',
  });
  const listening = await gw.waitFor((l) => l.msg === 'gateway listening');
  return { gw, url: String(listening.url) };
}

async function quitCalls(): Promise<number> {
  const c = new Redis(redis.url);
  try {
    return Number(/cmdstat_quit:calls=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? 0);
  } finally {
    c.disconnect();
  }
}

/** A graphql-ws connection that has been acknowledged. */
async function wsConnected(url: string, token?: string): Promise<WebSocket> {
  // The same user-agent as the HTTP requests: a session used from another client family is revoked.
  const ws = new WebSocket(url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', { headers: { 'user-agent': UA } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} })));
    ws.on('message', (m) => {
      if ((JSON.parse((m as Buffer).toString()) as { type: string }).type === 'connection_ack') resolve();
    });
    ws.once('error', reject);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
  return ws;
}

test('SIGTERM drains HTTP and WebSocket, quits Redis, exits 0 within 10 s', async () => {
  const { gw, url } = await start();
  const reg = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({ query: 'mutation { register(input: { email: "drain@example.com", password: "drain-pass-123", name: "D" }) { token } }' }),
  });
  const token = ((await reg.json()) as { data: { register: { token: string } } }).data.register.token;

  const sockets = await Promise.all([wsConnected(url, token), wsConnected(url)]);
  const closes = sockets.map(
    (ws) => new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() }))),
  );

  // An in-flight request: headers and half the body sent before SIGTERM, the rest after.
  const body = JSON.stringify({ query: 'mutation { startGuestSession { token } }' });
  const half = Math.floor(body.length / 2);
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(
      `${url}/graphql`,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
    setTimeout(() => req.end(body.slice(half)), 600);
  });
  await new Promise((r) => setTimeout(r, 100));

  const quitsBefore = await quitCalls();
  const signalled = Date.now();
  gw.kill('SIGTERM');

  // New connections are refused while draining.
  await gw.waitFor((l) => l.msg === 'shutting down', 2000);
  await new Promise((r) => setTimeout(r, 200));
  await expect(fetch(`${url}/healthz`)).rejects.toThrow();

  const done = await response;
  expect(done.status).toBe(200);
  expect(JSON.parse(done.text).data.startGuestSession.token).toMatch(/^[A-Za-z0-9_-]{43}$/);

  for (const c of await Promise.all(closes)) expect(c.code).toBe(1001);

  const { code, at } = await gw.exited;
  expect(code).toBe(0);
  expect(at - signalled).toBeLessThan(10_000);
  expect((await quitCalls()) - quitsBefore).toBeGreaterThanOrEqual(2);
  expect(gw.stderr()).toBe('');
});

test('an idle keep-alive connection does not delay the exit', async () => {
  const { gw, url } = await start();
  // fetch keeps its connection open after the response.
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  const signalled = Date.now();
  gw.kill('SIGTERM');
  const { code, at } = await gw.exited;
  expect(code).toBe(0);
  expect(at - signalled).toBeLessThan(2000);
});

test('a WebSocket client that never answers the close handshake does not hold the exit past 10 s', async () => {
  const { gw, url } = await start();
  const ws = await wsConnected(url);
  // Stop reading: the server's close frame is never answered.
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const signalled = Date.now();
  gw.kill('SIGTERM');
  const { code, at } = await gw.exited;
  expect(at - signalled).toBeLessThan(10_000);
  expect(code).toBe(0);
  ws.terminate();
});

test('SIGINT shuts down the same way', async () => {
  const { gw } = await start();
  gw.kill('SIGINT');
  const { code } = await gw.exited;
  expect(code).toBe(0);
  expect(gw.lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGINT')).toBe(true);
});
