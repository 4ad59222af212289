/**
 * No value from a request ever becomes program text. graphql-jit (the executor the
 * gateway once used) wrote argument literals into generated code, and a string
 * starting with its date marker became `new Date(<rest>)`, evaluated: one anonymous
 * request ran JavaScript inside the gateway. Every shape of that payload is sent here
 * to a real gateway process (development and production), over HTTP POST, GET and
 * WebSocket; each would write a file, and none may, and the gateway must still answer.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { buildGateway, type Build } from '../helpers/build';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process';
import { gqlRequest } from '../helpers/app';
import { flushPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis';

jest.setTimeout(120_000);

const MARKER = '__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d';

let build: Build;
let dir: string;
beforeAll(async () => {
  build = await buildGateway();
  dir = mkdtempSync(path.join(tmpdir(), 'gw-rce-'));
});
afterAll(() => {
  build?.remove();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
/** JavaScript that writes a fresh file under `dir`; returns the code and the file it would write. */
function js(): { code: string; file: string } {
  const file = path.join(dir, `pwned-${seq++}.txt`);
  return { code: `process.mainModule.require(\`fs\`).writeFileSync(\`${file}\`,\`rce\`)`, file };
}

interface Case {
  name: string;
  /** Builds the operation for one payload (marker + code, as the value the parser hands on). */
  op(code: string): { query: string; variables?: Record<string, unknown> };
  /** Queries can go over GET; mutations cannot. */
  get: boolean;
}

/** A GraphQL string literal of `s` with `"` and `\` escaped. */
const lit = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const CASES: Case[] = [
  { name: 'plain string literal', get: true, op: (c) => ({ query: `{ product(id: ${lit(MARKER + c)}) { id } }` }) },
  { name: 'after an escaped quote', get: true, op: (c) => ({ query: `{ product(id: "x\\"${MARKER}${c}") { id } }` }) },
  { name: 'escaped quote then the marker in a page', get: false, op: (c) => ({ query: `mutation { trackPageView(input: { page: "/a\\"${MARKER}${c}" }) }` }) },
  { name: '\\u005F escapes', get: true, op: (c) => ({ query: `{ product(id: "\\u005F\\u005F${MARKER.slice(2)}${c}") { id } }` }) },
  { name: 'block string', get: true, op: (c) => ({ query: `{ product(id: """${MARKER}${c}""") { id } }` }) },
  { name: 'input-object literal', get: false, op: (c) => ({ query: `mutation { trackPageView(input: { page: ${lit(MARKER + c)} }) }` }) },
  {
    name: 'list of input objects with a JSON literal',
    get: false,
    op: (c) => ({ query: `mutation { enqueueJobs(inputs: [{ type: "email.send", data: { to: ${lit(MARKER + c)}, nested: [${lit(MARKER + c)}] } }]) { id } }` }),
  },
  { name: 'pageStats string argument', get: true, op: (c) => ({ query: `{ pageStats(page: ${lit(MARKER + c)}) { views } }` }) },
  { name: 'variable', get: true, op: (c) => ({ query: 'query P($id: ID!) { product(id: $id) { id } }', variables: { id: MARKER + c } }) },
  {
    name: 'variable in an input object',
    get: false,
    op: (c) => ({ query: 'mutation T($i: PageViewInput!) { trackPageView(input: $i) }', variables: { i: { page: MARKER + c } } }),
  },
  { name: 'default value of a variable', get: true, op: (c) => ({ query: `query P($id: ID! = ${lit(MARKER + c)}) { product(id: $id) { id } }` }) },
];

type Transport = 'POST' | 'GET' | 'WebSocket';

async function send(url: string, transport: Transport, op: { query: string; variables?: Record<string, unknown> }): Promise<void> {
  if (transport === 'POST') {
    await gqlRequest(url, op.query, op.variables);
    return;
  }
  if (transport === 'GET') {
    const qs = new URLSearchParams({ query: op.query, ...(op.variables ? { variables: JSON.stringify(op.variables) } : {}) });
    await fetch(`${url}/graphql?${qs.toString()}`, { headers: { 'apollo-require-preflight': 'true' } });
    return;
  }
  const client = createClient({ url: url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
  try {
    await new Promise<void>((resolve) => {
      client.subscribe(op, { next: () => undefined, error: () => resolve(), complete: () => resolve() });
    });
  } finally {
    await client.dispose();
  }
}

describe.each(['development', 'production'])('NODE_ENV=%s', (nodeEnv) => {
  let gw: GatewayProcess;
  let url: string;
  const prefix = uniquePrefix('rce');
  beforeAll(async () => {
    gw = spawnGateway(build.entry, {
      NODE_ENV: nodeEnv,
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: testRedisUrl(),
      KEY_PREFIX: prefix,
      LOG_LEVEL: 'info',
      WORKER: '0',
      RATE_LIMIT_DEFAULT: 'off',
      SCRYPT_N: '1024',
    });
    const line = await gw.waitFor((l) => l.msg === 'gateway listening');
    url = String(line.url);
  });
  afterAll(async () => {
    gw?.kill();
    await gw?.exited;
    await flushPrefix(prefix);
  });

  const table = CASES.flatMap((c) => (['POST', 'GET', 'WebSocket'] as Transport[]).filter((t) => t !== 'GET' || c.get).map((t) => [c.name, t, c] as const));
  test.each(table)('%s over %s runs nothing', async (_name, transport, c) => {
    const { code, file } = js();
    await send(url, transport, c.op(code));
    // A little time for anything asynchronous the payload might have started.
    await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(file)).toBe(false);
    const after = await gqlRequest(url, '{ __typename }');
    expect(after.status).toBe(200);
    expect(after.data).toEqual({ __typename: 'Query' });
  });

  test('no payload wrote any file, and the process is still up', () => {
    expect(readdirSync(dir)).toEqual([]);
    expect(gw.child.exitCode).toBeNull();
  });
});
