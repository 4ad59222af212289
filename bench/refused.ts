/**
 * What a refused document costs the gateway, and what its caller is charged for it.
 * One production gateway (defaults: RATE_LIMIT_DEFAULT 600/1m, QUERY_MAX_TOKENS, ...)
 * in its own process on a private redis-server. The document (`--document`) is the
 * issue's, `issue`: 4,900 unknown fields, 28 KB (`{ f0 f1 ... f4899 }`); `nested`: 995
 * unknown fields inside `me`, the most validation a 1,000-token document can ask for; or
 * `typo`: `{ mee { id name } }`.
 *
 * - CPU per refused document: gateway process CPU over N documents sent one after
 *   another, over HTTP and over WebSocket (graphql-transport-ws subscribe messages;
 *   a socket the gateway closes is replaced), next to `{ __typename }` for scale.
 * - Charged: the `RateLimit` header of the first HTTP refusal from a fresh address.
 * - /healthz under attack: its latency, sampled every 50 ms, while 8 HTTP clients send
 *   the document in a loop, and while one WebSocket keeps 50 of them in flight.
 *
 * Run: `npm run bench -- refused [options]` (`--help` lists them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { forkServer, type ChildServer, serveParent } from './child';
import { parseOptions, type Bench } from './cli';

const FIELDS = 4900;
/** The issue's document. */
export const ISSUE = `{ ${Array.from({ length: FIELDS }, (_, i) => `f${i}`).join(' ')} }`;
/** The most validation work a refused document can ask for under the default limits: 995 unknown fields inside `me`, 1,000 tokens. */
export const NESTED = `{ me { ${Array.from({ length: 995 }, (_, i) => `f${i}`).join(' ')} } }`;
/** A typo: what a working client gets refused for. */
export const TYPO = '{ mee { id name } }';
const DOCUMENTS: Record<string, string> = { issue: ISSUE, nested: NESTED, typo: TYPO };
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let ipSeq = 0;
/** Each phase speaks from its own address (the gateway trusts 127.0.0.1 as a proxy), so budgets do not carry over. */
const freshIp = (): string => `10.${(++ipSeq >> 16) & 255}.${(ipSeq >> 8) & 255}.${ipSeq & 255}`;

async function post(url: string, query: string, ip: string): Promise<Response> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ query }),
  });
  await res.arrayBuffer();
  return res;
}

/** Gateway CPU (µs) per request for `count` requests sent one after another. */
/**
 * The gateway's CPU (µs) while `work` runs, less what it spends anyway in that time (timers:
 * statistics flush, registry heartbeat, live-stats polling), measured idle beforehand.
 */
async function cpuOf(server: ChildServer, work: () => Promise<unknown>): Promise<number> {
  const idle0 = await server.ask<number>('cpu');
  const t0 = performance.now();
  await sleep(1000);
  const idlePerMs = ((await server.ask<number>('cpu')) - idle0) / (performance.now() - t0);
  const before = await server.ask<number>('cpu');
  const t1 = performance.now();
  await work();
  return (await server.ask<number>('cpu')) - before - idlePerMs * (performance.now() - t1);
}

/** Gateway CPU (µs) per request for `count` requests sent one after another, each from a fresh address. */
async function cpuPerHttp(server: ChildServer, query: string, count: number): Promise<number> {
  const ip = freshIp();
  for (let i = 0; i < 20; i++) await post(server.url, query, ip);
  const cpu = await cpuOf(server, async () => {
    for (let i = 0; i < count; i++) await post(server.url, query, freshIp());
  });
  return round(cpu / count, 0);
}

/** A graphql-transport-ws socket, acknowledged. */
function openSocket(url: string, ip: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers: { 'x-forwarded-for': ip } });
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', function ack(data) {
      if (JSON.parse((data as Buffer).toString()).type === 'connection_ack') {
        ws.off('message', ack);
        resolve(ws);
      }
    });
  });
}

/**
 * Sends `count` subscribe messages, at most `inFlight` unanswered at once, replacing the
 * socket whenever the gateway closes it. Resolves with how many sockets it took.
 */
async function sendOverWs(
  url: string,
  query: string,
  count: number,
  inFlight: number,
  ip: string,
  stop?: () => boolean,
): Promise<{ sockets: number; answered: number; closes: Record<string, number> }> {
  let sent = 0;
  let answered = 0;
  let sockets = 0;
  const closes: Record<string, number> = {};
  while (answered < count && !stop?.()) {
    const ws = await openSocket(url, ip);
    sockets++;
    await new Promise<void>((done) => {
      let pending = 0;
      const pump = (): void => {
        while (pending < inFlight && sent < count && ws.readyState === WebSocket.OPEN && !stop?.()) {
          ws.send(JSON.stringify({ id: String(++sent), type: 'subscribe', payload: { query } }));
          pending++;
        }
        if ((answered >= count || stop?.()) && ws.readyState === WebSocket.OPEN) ws.close(1000);
      };
      ws.on('message', (data) => {
        const msg = JSON.parse((data as Buffer).toString()) as { type: string };
        if (msg.type === 'error' || msg.type === 'complete') {
          pending--;
          answered++;
          pump();
        }
      });
      ws.once('close', (code, reason) => {
        const key = `${code} ${String(reason)}`.trim();
        closes[key] = (closes[key] ?? 0) + 1;
        // Whatever was in flight on a closed socket is sent again on the next one.
        sent -= pending;
        done();
      });
      pump();
    });
  }
  return { sockets, answered, closes };
}

async function cpuPerWs(server: ChildServer, query: string, count: number): Promise<{ cpuUs: number; sockets: number; closes: Record<string, number> }> {
  await sendOverWs(server.url, query, 20, 1, freshIp());
  let r = { sockets: 0, answered: 0, closes: {} as Record<string, number> };
  const cpu = await cpuOf(server, async () => (r = await sendOverWs(server.url, query, count, 1, freshIp())));
  return { cpuUs: round(cpu / count, 0), sockets: r.sockets, closes: r.closes };
}

interface Latency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** Samples /healthz every 50 ms until `until()` is true. */
async function healthz(url: string, until: () => boolean): Promise<Latency> {
  const times: number[] = [];
  while (!until()) {
    const t0 = performance.now();
    const res = await fetch(`${url}/healthz`);
    await res.arrayBuffer();
    times.push(performance.now() - t0);
    await sleep(50);
  }
  times.sort((a, b) => a - b);
  const at = (q: number): number => round(times[Math.min(times.length - 1, Math.floor(q * times.length))], 1);
  return { samples: times.length, p50: at(0.5), p99: at(0.99), max: round(times[times.length - 1], 1) };
}

async function underHttpAttack(url: string, document: string, seconds: number, attackers: number): Promise<Latency & { documents: number }> {
  const end = Date.now() + seconds * 1000;
  const done = (): boolean => Date.now() >= end;
  let documents = 0;
  const ip = freshIp();
  const loops = Array.from({ length: attackers }, async () => {
    while (!done()) {
      await post(url, document, ip);
      documents++;
    }
  });
  const lat = await healthz(url, done);
  await Promise.all(loops);
  return { ...lat, documents };
}

async function underWsAttack(
  url: string,
  document: string,
  seconds: number,
): Promise<Latency & { documents: number; sockets: number; closes: Record<string, number> }> {
  const end = Date.now() + seconds * 1000;
  const done = (): boolean => Date.now() >= end;
  const attack = sendOverWs(url, document, Number.MAX_SAFE_INTEGER, 50, freshIp(), done);
  const lat = await healthz(url, done);
  const r = await attack;
  return { ...lat, documents: r.answered, sockets: r.sockets, closes: r.closes };
}

export async function runRefusedBench(opts: { count: number; seconds: number; document: string }, log: (l: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-refused-'));
  const redis = await startRedisServer(dir);
  let server: ChildServer | undefined;
  try {
    // process.execArgv: run from the TypeScript sources (`node -r ./test/helpers/ts-register.js`) the child needs the same loader.
    server = await forkServer('refused', [redis.url], 'gateway', process.execArgv);
    const attack = DOCUMENTS[opts.document];
    log(`refused: document "${opts.document}" of ${Buffer.byteLength(attack)} bytes; ${opts.count} documents per CPU run, ${opts.seconds} s per attack`);
    const first = await post(server.url, attack, freshIp());
    const body = await (
      await fetch(`${server.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': freshIp() },
        body: JSON.stringify({ query: attack }),
      })
    ).json();
    const charged = {
      status: first.status,
      rateLimit: first.headers.get('ratelimit'),
      code: (body as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code,
    };
    log(`  first HTTP refusal: ${charged.status} ${charged.code}, RateLimit: ${charged.rateLimit}`);
    const typename = await cpuPerHttp(server, '{ __typename }', opts.count);
    const http = await cpuPerHttp(server, attack, opts.count);
    log(`  CPU per request: { __typename } ${typename} µs; refused document over HTTP ${http} µs`);
    const ws = await cpuPerWs(server, attack, opts.count);
    log(`  CPU per refused document over WebSocket ${ws.cpuUs} µs (${ws.sockets} socket(s); closes ${JSON.stringify(ws.closes)})`);
    const idle = await healthz(
      server.url,
      (() => {
        const end = Date.now() + 2000;
        return () => Date.now() >= end;
      })(),
    );
    log(`  /healthz idle: p50 ${idle.p50} ms, p99 ${idle.p99} ms, max ${idle.max} ms`);
    const h = await underHttpAttack(server.url, attack, opts.seconds, 8);
    log(`  /healthz while 8 HTTP clients send it: p50 ${h.p50} ms, p99 ${h.p99} ms, max ${h.max} ms (${h.samples} samples; ${h.documents} documents answered)`);
    const w = await underWsAttack(server.url, attack, opts.seconds);
    log(
      `  /healthz while one WebSocket keeps 50 in flight: p50 ${w.p50} ms, p99 ${w.p99} ms, max ${w.max} ms (${w.samples} samples; ${w.documents} documents answered on ${w.sockets} socket(s); closes ${JSON.stringify(w.closes)})`,
    );
    return { bytes: Buffer.byteLength(attack), charged, cpuUs: { typename, http, ws: ws.cpuUs }, healthz: { idle, http: h, ws: w } };
  } finally {
    await server?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function serve(redisUrl: string): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    KEY_PREFIX: 'bench',
    TRUSTED_PROXIES: '127.0.0.1',
    LOG_LEVEL: 'silent',
    WORKER: '0',
  });
  const app = await startApp(config);
  serveParent(app.url, () => app.close());
}

const OPTIONS = [
  { flag: '--document', choices: Object.keys(DOCUMENTS), help: "the issue's 4,900 unknown fields, 995 inside `me`, or a typo", default: 'issue' },
  { flag: '--count', value: '<n>', help: 'documents per CPU measurement', default: 200 },
  { flag: '--seconds', value: '<s>', help: 'seconds per /healthz-under-attack run', default: 10 },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts = { document: a.string('--document')!, count: a.number('--count', 'positive integer'), seconds: a.number('--seconds') };
    const json = a.has('--json');
    const r = await runRefusedBench(opts, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify(r, null, 2));
  },
  serve: ([redisUrl]) => serve(redisUrl),
};
