/**
 * Catalog: admin upserts, public reads, field-by-field validation, and the cached reads across two
 * instances (the shared cache, dropped by the scripts' product messages; docs/caching.md).
 */
import { registerUser, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { PRODUCT_FIELDS, code, product, upsert } from '../helpers/commerce';
import { rawRedis, uniquePrefix } from '../helpers/redis';
import { CATALOG_CACHE_MS } from '../../src/services/commerce/catalog.service';
import { within } from '../helpers/eventually';

let a: TestApp;
let b: TestApp;
let admin: string;
const prefix = uniquePrefix('catalog');
const two = twoInstances({ KEY_PREFIX: prefix }, { admin: true });
beforeAll(() => ({ a, b, admin } = two));

const UPSERT = `mutation U($input: ProductInput!) { upsertProduct(input: $input) { ${PRODUCT_FIELDS} } }`;

test('admins upsert products; anyone lists and reads them', async () => {
  const created = await upsert(a, admin, { id: 'cat-b', name: '  Blue mug ', priceCents: 1250, stock: 7 });
  expect(created).toEqual({ id: 'cat-b', name: 'Blue mug', priceCents: 1250, currency: 'USD', stock: 7 });
  await upsert(a, admin, { id: 'cat-a', name: 'Apron', priceCents: 3000, stock: 1, currency: 'EUR' });
  await upsert(a, admin, { id: 'cat-c', name: 'Cup', priceCents: 0, stock: 0 });

  const all = await b.gql(`{ products { ${PRODUCT_FIELDS} } }`);
  expect(all.data?.products.map((p: { id: string }) => p.id)).toEqual(['cat-a', 'cat-b', 'cat-c']);
  expect(all.data?.products[0]).toEqual({ id: 'cat-a', name: 'Apron', priceCents: 3000, currency: 'EUR', stock: 1 });
  const page = await b.gql('{ products(limit: 1, offset: 1) { id } }');
  expect(page.data?.products).toEqual([{ id: 'cat-b' }]);
  expect((await product(b, 'cat-b')).data?.product.name).toBe('Blue mug');
  expect((await product(b, 'nope')).data?.product).toBeNull();
  expect((await product(b, 'no such id!')).data?.product).toBeNull();

  // Replacing keeps one product, with every field new.
  await upsert(a, admin, { id: 'cat-b', name: 'Big mug', priceCents: 1500, stock: 3 });
  expect((await product(a, 'cat-b')).data?.product).toEqual({ id: 'cat-b', name: 'Big mug', priceCents: 1500, currency: 'USD', stock: 3 });
  expect((await b.gql('{ products(limit: 100) { id } }')).data?.products).toHaveLength(3);
});

test('bad input is refused field by field and nothing is written', async () => {
  const res = await a.gql(UPSERT, { input: { id: 'bad id!', name: '   ', priceCents: -1, stock: -5, currency: 'dollars' } }, { token: admin });
  expect(code(res)).toBe('BAD_USER_INPUT');
  const fields = res.errors?.[0].extensions?.fields;
  expect(fields.id[0]).toMatch(/letters, digits/);
  expect(fields.name).toEqual(['must not be empty']);
  expect(fields.priceCents).toEqual(['must not be negative']);
  expect(fields.stock).toEqual(['must not be negative']);
  expect(fields.currency).toEqual(['must be an ISO 4217 currency code such as USD or EUR']);
  expect(res.errors?.[0].message).toMatch(/^Invalid input: /);

  const long = await a.gql(
    UPSERT,
    { input: { id: 'x'.repeat(65), name: 'n'.repeat(201), priceCents: 1_000_000_001, stock: 1_000_000_001, currency: 'XXY' } },
    { token: admin },
  );
  const f2 = long.errors?.[0].extensions?.fields;
  expect(Object.keys(f2).sort()).toEqual(['currency', 'id', 'name', 'priceCents', 'stock']);
  expect(f2.name).toEqual(['must be at most 200 characters long']);
  expect(f2.priceCents).toEqual(['must be at most 100000000']);

  const badArgs = await a.gql('{ products(limit: 0, offset: -1) { id } }');
  expect(badArgs.errors?.[0].extensions?.fields).toEqual({ limit: ['must be at least 1'], offset: ['must not be negative'] });
  expect((await product(a, 'bad')).data?.product).toBeNull();
});

test('only admins upsert', async () => {
  const input = { id: 'cat-forbidden', name: 'X', priceCents: 1, stock: 1 };
  expect(code(await a.gql(UPSERT, { input }))).toBe('UNAUTHENTICATED');
  const customer = await registerUser(a);
  expect(code(await a.gql(UPSERT, { input }, { token: customer.token }))).toBe('FORBIDDEN');
  expect((await product(a, 'cat-forbidden')).data?.product).toBeNull();
});

test('reads are served from the cache until a write changes them, on every instance', async () => {
  await upsert(a, admin, { id: 'cache-1', name: 'Cached', priceCents: 100, stock: 5 });
  expect((await product(a, 'cache-1')).data?.product.name).toBe('Cached');
  // B drops its cached pages when the change's message arrives (across a Cluster, over the cluster bus).
  await within(1000, async () => (await product(b, 'cache-1')).data?.product?.name === 'Cached');
  await within(1000, async () =>
    ((await b.gql('{ products(limit: 100) { id name } }')).data?.products ?? []).some(
      (p: { id: string; name: string }) => p.id === 'cache-1' && p.name === 'Cached',
    ),
  );

  // A change behind the service's back (neither the read cache in Redis dropped nor a message) is
  // not seen: reads come from the caches.
  const r = rawRedis();
  try {
    const key = `${prefix}:cat:{catalog}:products`;
    await r.hset(key, 'cache-1', JSON.stringify({ name: 'Sneaky', priceCents: 1, currency: 'USD' }));
    expect((await product(a, 'cache-1')).data?.product.name).toBe('Cached');
    expect((await product(b, 'cache-1')).data?.product.name).toBe('Cached');
    expect((await b.gql('{ products(limit: 100) { id name } }')).data?.products).toContainEqual({ id: 'cache-1', name: 'Cached' });

    // A writer outside the gateway that follows docs/events.md but publishes nothing (the read cache
    // in Redis dropped and the version bumped in its step): every instance has it within the
    // lifetime of its in-process entries, and not at once (they are served from memory meanwhile).
    await r
      .multi()
      .hset(key, 'cache-1', JSON.stringify({ name: 'Outside', priceCents: 1, currency: 'USD' }))
      .incr(`${prefix}:cat:{catalog}:version`)
      .del(`${prefix}:cat:{catalog}:cache`)
      .exec();
    const t0 = Date.now();
    expect((await product(b, 'cache-1')).data?.product.name).toBe('Cached');
    for (const t of [a, b]) {
      while ((await product(t, 'cache-1')).data?.product.name !== 'Outside') {
        expect(Date.now() - t0).toBeLessThan(CATALOG_CACHE_MS + 1000);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  } finally {
    r.disconnect();
  }

  // An upsert on B is seen at once by A, for the product and the list.
  await upsert(b, admin, { id: 'cache-1', name: 'Renamed', priceCents: 200, stock: 4 });
  expect((await product(a, 'cache-1')).data?.product).toMatchObject({ name: 'Renamed', priceCents: 200, stock: 4 });
  expect((await a.gql('{ products(limit: 100) { id name } }')).data?.products).toContainEqual({ id: 'cache-1', name: 'Renamed' });
  // A new product appears in a cached list too.
  await upsert(a, admin, { id: 'cache-2', name: 'Second', stock: 1 });
  expect((await b.gql('{ products(limit: 100) { id } }')).data?.products).toContainEqual({ id: 'cache-2' });
});

test('a checkout on one instance updates the stock the other shows', async () => {
  await upsert(a, admin, { id: 'cache-stock', stock: 5 });
  expect((await product(b, 'cache-stock')).data?.product.stock).toBe(5);
  const u = await registerUser(a);
  await a.gql('mutation { addToCart(input: { productId: "cache-stock", quantity: 2 }) { itemCount } }', {}, { token: u.token });
  expect((await a.gql('mutation { checkout { id } }', {}, { token: u.token })).errors).toBeUndefined();
  // b drops its copy when the checkout's own message arrives (milliseconds; on a Cluster it crosses the cluster bus).
  await within(1000, async () => (await product(b, 'cache-stock')).data?.product.stock === 3);
  await within(1000, async () =>
    ((await b.gql('{ products(limit: 100) { id stock } }')).data?.products as Array<{ id: string; stock: number }>).some(
      (p) => p.id === 'cache-stock' && p.stock === 3,
    ),
  );
});
