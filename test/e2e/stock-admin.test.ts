/**
 * Admin controls of commerce: adjustStock (atomic with sales, never below 0, audited) and
 * orders(status, limit, offset) (newest first). Admin only, over HTTP and WebSocket alike.
 */
import type { Client } from 'graphql-ws';
import { registerUser, type TestApp } from '../helpers/app';
import { addToCart, checkout, code, product, upsert } from '../helpers/commerce';
import { twoInstances } from '../helpers/instances';
import { uniquePrefix } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';
import { within } from '../helpers/eventually';

let a: TestApp;
let b: TestApp;
let admin: string;
const two = twoInstances({ KEY_PREFIX: uniquePrefix('stock-admin') }, { admin: true });
beforeAll(() => ({ a, b, admin } = two));

const ADJUST = 'mutation S($p: ID!, $d: Int!) { adjustStock(productId: $p, delta: $d) { id name priceCents currency stock } }';
const ORDERS = 'query O($s: OrderStatus, $l: Int, $o: Int) { orders(status: $s, limit: $l, offset: $o) { id status totalCents createdAt } }';
const stockOf = async (t: TestApp, id: string): Promise<number> => (await product(t, id)).data?.product.stock;

describe('adjustStock', () => {
  test('adds and removes units; every instance reads the new stock within a second; the audit log names who and what', async () => {
    await upsert(a, admin, { id: 'adj-mug', name: 'Mug', priceCents: 1200, stock: 10 });
    expect(await stockOf(b, 'adj-mug')).toBe(10); // cached on b
    const up = await a.gql(ADJUST, { p: 'adj-mug', d: 15 }, { token: admin });
    expect(up.data?.adjustStock).toEqual({ id: 'adj-mug', name: 'Mug', priceCents: 1200, currency: 'USD', stock: 25 });
    // Every instance within a second (milliseconds: the change's own message drops their copies).
    await within(1000, async () => (await stockOf(b, 'adj-mug')) === 25);
    const down = await b.gql(ADJUST, { p: 'adj-mug', d: -25 }, { token: admin });
    expect(down.data?.adjustStock.stock).toBe(0);
    await within(1000, async () => (await stockOf(a, 'adj-mug')) === 0);
    const audit = await a.gql('{ auditLog(limit: 5) { actor action target } }', {}, { token: admin });
    expect(audit.data?.auditLog.slice(0, 2).map((e: { action: string; target: string }) => `${e.action} ${e.target}`)).toEqual([
      'adjustStock adj-mug -25',
      'adjustStock adj-mug +15',
    ]);
  });

  test('refuses to go below 0 (units in open orders are not in the stock), past the largest stock, a delta of 0, an unknown product', async () => {
    await upsert(a, admin, { id: 'adj-low', stock: 5 });
    const u = await registerUser(a);
    await addToCart(a, u.token, 'adj-low', 3);
    expect((await checkout(a, u.token)).data?.checkout.status).toBe('PENDING');
    // 2 in stock, 3 held by the PENDING order: at most 2 can be removed.
    const below = await a.gql(ADJUST, { p: 'adj-low', d: -3 }, { token: admin });
    expect(code(below)).toBe('BAD_USER_INPUT');
    expect(below.errors?.[0]?.message).toBe('adj-low has 2 units in stock: removing 3 would take it below 0 (units in open orders are not in the stock)');
    expect(below.errors?.[0]?.extensions).toMatchObject({ productId: 'adj-low', stock: 2, delta: -3, fields: { delta: ['must be at least -2'] } });
    expect(await stockOf(a, 'adj-low')).toBe(2);

    const over = await a.gql(ADJUST, { p: 'adj-low', d: 1_000_000_000 }, { token: admin });
    expect(code(over)).toBe('BAD_USER_INPUT');
    expect(over.errors?.[0]?.message).toMatch(/past 1000000000/);
    for (const d of [0, -1_000_000_001, 1_000_000_001]) expect(code(await a.gql(ADJUST, { p: 'adj-low', d }, { token: admin }))).toBe('BAD_USER_INPUT');
    expect(code(await a.gql(ADJUST, { p: 'adj-low', d: 2 ** 31 }, { token: admin }))).toBe('BAD_USER_INPUT');
    expect(code(await a.gql(ADJUST, { p: 'no-such-product', d: 1 }, { token: admin }))).toBe('NOT_FOUND');
    for (const p of ['../x', '{catalog}', 'a:b', 'x'.repeat(65), "'); redis.call('FLUSHALL') --"]) {
      expect([p, code(await a.gql(ADJUST, { p, d: 1 }, { token: admin }))]).toEqual([p, expect.stringMatching(/^(NOT_FOUND|BAD_USER_INPUT)$/)]);
    }
    expect(await stockOf(a, 'adj-low')).toBe(2);
    expect((await a.gql(ADJUST, { p: 'adj-low', d: -2 }, { token: admin })).data?.adjustStock.stock).toBe(0);
  });

  test('admins only, over HTTP and WebSocket', async () => {
    await upsert(a, admin, { id: 'adj-auth', stock: 1 });
    const u = await registerUser(a);
    expect(code(await a.gql(ADJUST, { p: 'adj-auth', d: 1 }, { token: u.token }))).toBe('FORBIDDEN');
    expect(code(await a.gql(ADJUST, { p: 'adj-auth', d: 1 }))).toBe('UNAUTHENTICATED');
    const customer: Client = wsClient(b.url, { token: u.token });
    const adm: Client = wsClient(b.url, { token: admin });
    try {
      expect((await execute(customer, ADJUST, { p: 'adj-auth', d: 1 })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await execute(adm, ADJUST, { p: 'adj-auth', d: 4 })).data?.adjustStock.stock).toBe(5);
      expect((await execute(adm, ADJUST, { p: 'adj-auth', d: -6 })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await Promise.all([customer, adm].map(async (c) => c.dispose()));
    }
    expect(await stockOf(a, 'adj-auth')).toBe(5);
  });

  test('a restock during a checkout rush on two instances loses no sale and sells nothing that is not there', async () => {
    await upsert(a, admin, { id: 'adj-rush', priceCents: 500, stock: 200 });
    const users = await Promise.all(Array.from({ length: 120 }, (_, i) => registerUser(i % 2 ? a : b)));
    for (const u of users) expect((await addToCart(a, u.token, 'adj-rush', 1)).errors).toBeUndefined();
    await upsert(a, admin, { id: 'adj-rush', priceCents: 500, stock: 30 });
    // Checkouts and restocks (+1 each, 40 of them) interleaved across both instances.
    const work: Array<Promise<{ kind: 'sale' | 'refused' | 'restock' | 'error'; detail?: unknown }>> = [];
    users.forEach((u, i) => {
      work.push(
        checkout(i % 2 ? b : a, u.token).then((r) =>
          r.data?.checkout ? { kind: 'sale' } : code(r) === 'OUT_OF_STOCK' ? { kind: 'refused' } : { kind: 'error', detail: r.errors },
        ),
      );
      if (i % 3 === 0)
        work.push(
          (i % 2 ? a : b)
            .gql(ADJUST, { p: 'adj-rush', d: 1 }, { token: admin })
            .then((r) => (r.data ? { kind: 'restock' } : { kind: 'error', detail: r.errors })),
        );
    });
    const results = await Promise.all(work);
    const count = (k: string): number => results.filter((r) => r.kind === k).length;
    expect(results.filter((r) => r.kind === 'error')).toEqual([]);
    expect(count('restock')).toBe(40);
    const left = await stockOf(b, 'adj-rush');
    // Every unit is either sold or still in stock: 30 + 40 restocked.
    expect(count('sale') + left).toBe(70);
    expect(left).toBeGreaterThanOrEqual(0);
    expect(count('sale') + count('refused')).toBe(120);
  }, 60_000);
});

describe('orders (admin)', () => {
  test('newest first, by status, with limit and offset; bad bounds are BAD_USER_INPUT; admins only', async () => {
    await upsert(a, admin, { id: 'ord-list', stock: 100 });
    const u = await registerUser(a);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      await addToCart(a, u.token, 'ord-list', 1);
      ids.push((await checkout(i % 2 ? a : b, u.token)).data?.checkout.id);
    }
    await b.app.services.orders.process(ids[1]);
    await b.gql('mutation C($id: ID!) { cancelOrder(id: $id) { id } }', { id: ids[2] }, { token: u.token });
    await b.app.services.orders.fail(ids[3], 'declined');

    const all = (await a.gql(ORDERS, { l: 100 }, { token: admin })).data?.orders as Array<{ id: string; status: string; createdAt: string }>;
    const mine = all.filter((o) => ids.includes(o.id));
    expect(mine.map((o) => o.id)).toEqual([...ids].reverse());
    const times = all.map((o) => Date.parse(o.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    const by = async (s: string): Promise<string[]> =>
      ((await b.gql(ORDERS, { s, l: 100 }, { token: admin })).data?.orders as Array<{ id: string; status: string }>)
        .filter((o) => ids.includes(o.id))
        .map((o) => `${o.status}:${ids.indexOf(o.id)}`);
    expect(await by('PENDING')).toEqual(['PENDING:5', 'PENDING:4', 'PENDING:0']);
    expect(await by('COMPLETED')).toEqual(['COMPLETED:1']);
    expect(await by('CANCELLED')).toEqual(['CANCELLED:2']);
    expect(await by('FAILED')).toEqual(['FAILED:3']);
    expect(await by('PROCESSING')).toEqual([]);

    const page = (await a.gql(ORDERS, { l: 2, o: 1 }, { token: admin })).data?.orders.map((o: { id: string }) => o.id);
    expect(page).toEqual(all.slice(1, 3).map((o) => o.id));
    expect((await a.gql(ORDERS, {}, { token: admin })).data?.orders.length).toBeLessThanOrEqual(50);
    for (const v of [{ l: 0 }, { l: 101 }, { o: -1 }, { o: 100_001 }])
      expect([v, code(await a.gql(ORDERS, v, { token: admin }))]).toEqual([v, 'BAD_USER_INPUT']);
    expect(code(await a.gql(ORDERS, { s: 'NOPE' }, { token: admin }))).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
    expect(code(await a.gql(ORDERS, {}, { token: u.token }))).toBe('FORBIDDEN');
    expect(code(await a.gql(ORDERS, {}))).toBe('UNAUTHENTICATED');
    const c: Client = wsClient(a.url, { token: u.token });
    try {
      expect((await execute(c, ORDERS, {})).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    } finally {
      await c.dispose();
    }
  });
});
