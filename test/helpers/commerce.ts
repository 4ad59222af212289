/** Small GraphQL helpers for the commerce tests. */
import type { GqlResult, TestApp } from './app';

type Gql = { gql: TestApp['gql'] };

export const PRODUCT_FIELDS = 'id name priceCents currency stock';
export const CART_FIELDS = `items { product { ${PRODUCT_FIELDS} } quantity lineTotalCents } itemCount subtotalCents currency`;
export const ORDER_FIELDS = 'id status items { productId name unitPriceCents quantity } totalCents currency createdAt';

export interface ProductIn {
  id: string;
  name?: string;
  priceCents?: number;
  stock?: number;
  currency?: string;
}

/** Upserts a product as admin; throws on any error. */
export async function upsert(t: Gql, token: string, p: ProductIn): Promise<Record<string, any>> {
  const input = { name: `Product ${p.id}`, priceCents: 1000, stock: 10, ...p };
  const res = await t.gql(`mutation U($input: ProductInput!) { upsertProduct(input: $input) { ${PRODUCT_FIELDS} } }`, { input }, { token });
  if (!res.data?.upsertProduct) throw new Error(`upsert failed: ${JSON.stringify(res.errors)}`);
  return res.data.upsertProduct;
}

export async function guestToken(t: Gql): Promise<string> {
  const res = await t.gql('mutation { startGuestSession { token } }');
  if (!res.data?.startGuestSession) throw new Error(`guest failed: ${JSON.stringify(res.errors)}`);
  return res.data.startGuestSession.token;
}

export const addToCart = (t: Gql, token: string | null, productId: string, quantity: number): Promise<GqlResult> =>
  t.gql(`mutation A($input: AddToCartInput!) { addToCart(input: $input) { ${CART_FIELDS} } }`, { input: { productId, quantity } }, { token });

export const setQuantity = (t: Gql, token: string | null, productId: string, quantity: number): Promise<GqlResult> =>
  t.gql(`mutation S($p: ID!, $q: Int!) { setCartItemQuantity(productId: $p, quantity: $q) { ${CART_FIELDS} } }`, { p: productId, q: quantity }, { token });

export const cart = (t: Gql, token: string | null): Promise<GqlResult> => t.gql(`{ cart { ${CART_FIELDS} } }`, {}, { token });

export const checkout = (t: Gql, token: string | null, idempotencyKey?: string): Promise<GqlResult> =>
  t.gql(`mutation C($k: String) { checkout(idempotencyKey: $k) { ${ORDER_FIELDS} } }`, { k: idempotencyKey }, { token });

export const product = (t: Gql, id: string): Promise<GqlResult> => t.gql(`query P($id: ID!) { product(id: $id) { ${PRODUCT_FIELDS} } }`, { id });

/** The cart lines as {productId: quantity}. */
export const lines = (c: { items: Array<{ product: { id: string }; quantity: number }> }): Record<string, number> =>
  Object.fromEntries(c.items.map((i) => [i.product.id, i.quantity]));

/** The error code of a result's first error. */
export const code = (res: GqlResult): string | undefined => res.errors?.[0]?.extensions?.code;
