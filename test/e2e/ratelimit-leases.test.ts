/**
 * Leases through two gateways on one Redis, over HTTP and WebSocket alike: a busy client is
 * charged from this instance's leased points (counted in /metrics) with headers that still count
 * down; an admin's block on one instance refuses the client on the other at once although that
 * one held leased points for it (a lease is charged without reading block keys, so a block drops
 * them); with RATE_LIMIT_LEASE=0 nothing is leased.
 */
import type { Client } from 'graphql-ws';
import type { TestApp } from '../helpers/app';
import { within } from '../helpers/eventually';
import { startTestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { execute, wsClient } from '../helpers/ws';

const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });
let ipSeq = 1;
const freshIp = (): string => `198.51.100.${ipSeq++}`;

// A lease lives a second here: without the block's message, the leased points would still be
// spent for up to that long, well past the 200 ms the test allows. The bucket refills a point
// every 600 ms, so on a slow machine too the 40 requests leave it below full.
const two = twoInstances({ RATE_LIMIT_DEFAULT: '6000/1h', TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_LEASE_TTL: '1s' }, { admin: true });

const BLOCK = 'mutation B($identity: String!, $seconds: Int!) { blockClient(identity: $identity, seconds: $seconds) }';
const UNBLOCK = 'mutation U($identity: String!) { unblockClient(identity: $identity) }';

async function leaseCharges(t: TestApp): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  return Number(/^rate_limit_lease_charges_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

const sockets: Client[] = [];
afterAll(async () => {
  for (const c of sockets) await c.dispose();
});

type Ask = () => Promise<{ refused: boolean; remaining: number | null }>;

/** One transport's way of asking `{ __typename }` from `ip` on instance B. */
const transports: Array<[string, (ip: string) => Ask]> = [
  [
    'HTTP',
    (ip) => async () => {
      const r = await two.b.gql('{ __typename }', {}, from(ip));
      const header = r.headers.get('ratelimit') ?? '';
      return { refused: r.status === 429, remaining: Number(/"default";r=(\d+)/.exec(header)?.[1] ?? NaN) };
    },
  ],
  [
    'WebSocket',
    (ip) => {
      const ws = wsClient(two.b.url, { headers: { 'x-forwarded-for': ip } });
      sockets.push(ws);
      return async () => {
        const r = await execute(ws, '{ __typename }');
        return { refused: r.errors?.[0]?.extensions?.code === 'RATE_LIMITED', remaining: null };
      };
    },
  ],
];

describe.each(transports)('%s', (_name, connect) => {
  test('a busy client is charged from leased points; a block on the other instance refuses it at once', async () => {
    const ip = freshIp();
    const ask = connect(ip);
    const before = await leaseCharges(two.b);
    const seen: Array<{ remaining: number; at: number }> = [];
    for (let i = 0; i < 40; i++) {
      const r = await ask();
      expect(r.refused).toBe(false);
      if (r.remaining !== null) seen.push({ remaining: r.remaining, at: Date.now() });
    }
    // Most of the 40 were charged from B's leases, not in Redis.
    expect((await leaseCharges(two.b)) - before).toBeGreaterThan(20);
    // The headers count down as without leases: one point per request, give or take what the
    // bucket refilled between two answers (6000/1h: a point every 600 ms).
    for (let i = 1; i < seen.length; i++) {
      const refill = Math.ceil((seen[i].at - seen[i - 1].at) / 600) + 1;
      expect(seen[i].remaining).toBeLessThanOrEqual(seen[i - 1].remaining + refill);
      expect(seen[i].remaining).toBeGreaterThanOrEqual(seen[i - 1].remaining - 1);
    }
    // And over the run, one point per request spent beyond what refilled meanwhile.
    if (seen.length) {
      const refilled = Math.ceil((seen.at(-1)!.at - seen[0].at) / 600) + 1;
      expect(seen.at(-1)!.remaining).toBeLessThanOrEqual(6000 - seen.length + refilled);
    }

    expect((await two.a.gql(BLOCK, { identity: `ip:${ip}`, seconds: 60 }, { token: two.admin })).data?.blockClient).toBe(true);
    await within(200, async () => (await ask()).refused);
    expect((await two.a.gql(UNBLOCK, { identity: `ip:${ip}` }, { token: two.admin })).data?.unblockClient).toBe(true);
    expect((await ask()).refused).toBe(false);
  });
});

test('RATE_LIMIT_LEASE=0: every charge goes to Redis', async () => {
  const t = await startTestApp({ RATE_LIMIT_DEFAULT: '6000/1m', RATE_LIMIT_LEASE: '0' });
  try {
    for (let i = 0; i < 30; i++) expect((await t.gql('{ __typename }')).status).toBe(200);
    expect(await leaseCharges(t)).toBe(0);
  } finally {
    await t.close();
  }
});
