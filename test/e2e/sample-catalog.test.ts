/**
 * A development start adds the sample catalog to an empty catalog, once, whatever the number of
 * instances starting together; a catalog with any product in it is left alone; production never
 * adds it (docs/commerce.md#sample-catalog).
 */
import { ADMIN_ENV, adminToken, startTestApp } from '../helpers/app';
import { startInstances } from '../helpers/instances';
import { uniquePrefix } from '../helpers/redis';

const PRODUCTS = '{ products(limit: 100) { id name priceCents currency stock } }';
const SAMPLE_IDS = ['cap-wool', 'mug-enamel', 'socks-merino', 'tee-classic', 'tote-canvas'];

test('two instances starting on an empty catalog: the five sample products, added once, and the docs examples answer', async () => {
  const pair = await startInstances({ SAMPLE_CATALOG: '1' });
  try {
    const listed = await pair.b.gql<{ products: Array<{ id: string; stock: number }> }>(PRODUCTS);
    expect(listed.errors).toBeUndefined();
    expect(listed.data!.products.map((p) => p.id)).toEqual(SAMPLE_IDS);
    const one = await pair.a.gql('{ product(id: "tee-classic") { name priceCents currency stock } }');
    expect(one.data).toEqual({ product: { name: 'Classic T-shirt', priceCents: 1900, currency: 'USD', stock: 100 } });
  } finally {
    await pair.close();
  }
});

test('a catalog holding any product is left as it is, sold stock included', async () => {
  const prefix = uniquePrefix('sample');
  const first = await startTestApp({ ...ADMIN_ENV, KEY_PREFIX: prefix });
  try {
    const token = await adminToken(first);
    const put = await first.gql('mutation { upsertProduct(input: { id: "tee-classic", name: "Own tee", priceCents: 999, stock: 1 }) { id } }', {}, { token });
    expect(put.errors).toBeUndefined();
    const second = await startTestApp({ KEY_PREFIX: prefix, SAMPLE_CATALOG: '1' });
    try {
      const listed = await second.gql(PRODUCTS);
      expect(listed.data).toEqual({ products: [{ id: 'tee-classic', name: 'Own tee', priceCents: 999, currency: 'USD', stock: 1 }] });
    } finally {
      await second.app.close();
    }
  } finally {
    await first.close();
  }
});

test('production never adds it, even with SAMPLE_CATALOG=1', async () => {
  const t = await startTestApp({ NODE_ENV: 'production', SAMPLE_CATALOG: '1' });
  try {
    expect((await t.gql(PRODUCTS)).data).toEqual({ products: [] });
  } finally {
    await t.close();
  }
});
