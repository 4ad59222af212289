/**
 * The catalog and `recommendations` through the shared cache: a repeated read costs Redis nothing
 * (a miss one script), and a change made on one instance (a stock adjustment, a checkout) reaches
 * the other's reads within a second, from the script's own product message (no PUBLISH of the
 * gateway's: a checkout still sends one script). Counted by the gateway's client and by Redis's
 * commandstats on a private redis-server.
 */
import { ADMIN_ENV, adminToken, registerUser } from '../helpers/app';
import { addToCart, checkout, product, upsert } from '../helpers/commerce';
import { twoInstances } from '../helpers/instances';
import { countingSetup } from '../helpers/roundtrips';
import { within } from '../helpers/eventually';

const RECS = 'query R($p: ID!) { recommendations(productId: $p, limit: 5) { id stock } }';
const PAGE = '{ products(limit: 10) { id stock } }';

describe('what a read costs', () => {
  // No heartbeat or rate-limit flush inside the counted windows; anonymous requests (no session check).
  const s = countingSetup({ ...ADMIN_ENV, REGISTRY_HEARTBEAT: '1h', REGISTRY_TTL: '2h', RATE_LIMIT_DEFAULT: 'off' });
  let admin: string;
  beforeAll(async () => {
    admin = await adminToken(s.t);
    for (const id of ['rt-a', 'rt-b', 'rt-c']) await upsert(s.t, admin, { id, stock: 50 });
  });

  test('product, a products page and recommendations: one script on a miss, then nothing until a change', async () => {
    // Redis learns the scripts (a first EVALSHA falls back to EVAL) outside the counted windows.
    await product(s.t, 'rt-c');
    await s.t.gql(RECS, { p: 'rt-c' });
    // Before: every read was one catalogRead script (the version check), hit or not. Now a miss is
    // one script and a hit is none.
    const miss = await s.cost(async () => {
      await product(s.t, 'rt-a');
      await s.t.gql(PAGE);
    });
    expect(miss.sent).toEqual({ evalsha: 2 });
    const hits = await s.cost(async () => {
      for (let i = 0; i < 20; i++) {
        expect((await product(s.t, 'rt-a')).data?.product.stock).toBe(50);
        expect((await s.t.gql(PAGE)).data?.products).toHaveLength(3);
      }
    });
    expect(hits).toEqual({ sent: {}, redis: {} });

    const recMiss = await s.cost(() => s.t.gql(RECS, { p: 'rt-a' }));
    expect(recMiss.sent).toEqual({ evalsha: 1 });
    const recHits = await s.cost(async () => {
      for (let i = 0; i < 20; i++) expect((await s.t.gql(RECS, { p: 'rt-a' })).data?.recommendations.length).toBeGreaterThan(0);
    });
    expect(recHits).toEqual({ sent: {}, redis: {} });
  });

  test("a change drops what it changed here at once; the script's own message is the only announcement", async () => {
    const adjusted = await s.cost(() => s.t.gql('mutation { adjustStock(productId: "rt-b", delta: -1) { stock } }', {}, { token: admin }));
    // Two messages, as before the cache: product.updated from inside the stock script, and
    // catalog.updated that the gateway sends (the one PUBLISH it sends); no cache.invalidate of its own.
    expect(adjusted.sent.publish ?? 0).toBe(1);
    expect(adjusted.redis.publish ?? 0).toBe(2);
    expect((await product(s.t, 'rt-b')).data?.product.stock).toBe(49);
    expect((await s.t.gql(PAGE)).data?.products).toContainEqual({ id: 'rt-b', stock: 49 });
    // rt-a's entry holds no rt-b: still a hit.
    expect((await s.cost(() => product(s.t, 'rt-a'))).sent).toEqual({});

    const u = await registerUser(s.t);
    await addToCart(s.t, u.token, 'rt-c', 2);
    const bought = await s.cost(() => checkout(s.t, u.token));
    expect(bought.sent.publish ?? 0).toBe(0);
    expect((await product(s.t, 'rt-c')).data?.product.stock).toBe(48);
  });
});

describe('across two instances', () => {
  const two = twoInstances({}, { admin: true });

  test('a stock change on A reaches reads on B within a second: product, page and recommendations', async () => {
    const { a, b, admin } = two;
    for (const id of ['x-hot', 'x-mate']) await upsert(a, admin, { id, stock: 5 });
    // B holds all three in memory.
    expect((await product(b, 'x-hot')).data?.product.stock).toBe(5);
    expect((await b.gql('{ products(limit: 100) { id stock } }')).data?.products).toContainEqual({ id: 'x-hot', stock: 5 });
    expect((await b.gql(RECS, { p: 'x-mate' })).data?.recommendations).toContainEqual({ id: 'x-hot', stock: 5 });

    const delays: number[] = [];
    const adjust = await a.gql('mutation { adjustStock(productId: "x-hot", delta: -2) { stock } }', {}, { token: admin });
    expect(adjust.data?.adjustStock.stock).toBe(3);
    delays.push(await within(1000, async () => (await product(b, 'x-hot')).data?.product.stock === 3));
    await within(1000, async () =>
      ((await b.gql('{ products(limit: 100) { id stock } }')).data?.products ?? []).some(
        (p: { id: string; stock: number }) => p.id === 'x-hot' && p.stock === 3,
      ),
    );
    await within(1000, async () =>
      ((await b.gql(RECS, { p: 'x-mate' })).data?.recommendations ?? []).some((p: { id: string; stock: number }) => p.id === 'x-hot' && p.stock === 3),
    );

    // A checkout on A sells the rest: B stops recommending it (never out of stock) and shows 0.
    const u = await registerUser(a);
    await addToCart(a, u.token, 'x-hot', 3);
    expect((await checkout(a, u.token)).errors).toBeUndefined();
    delays.push(await within(1000, async () => (await product(b, 'x-hot')).data?.product.stock === 0));
    await within(1000, async () => !((await b.gql(RECS, { p: 'x-mate' })).data?.recommendations ?? []).some((p: { id: string }) => p.id === 'x-hot'));
    console.log(`catalog change on A -> read on B: ${delays.join(' ms, ')} ms`);
  });
});
