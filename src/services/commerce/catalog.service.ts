/**
 * The catalog: products (name, price, currency) and their stock, all under the
 * `{catalog}` slot. Reads go through a read cache in Redis that every write
 * drops atomically with a version bump, plus an in-process copy per instance
 * that is reused while the version is unchanged: a read is one round trip and,
 * when nothing changed, carries only the version back.
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { runScript } from '../../redis/scripts';

export const CATALOG_UPDATED_TOPIC = 'catalog.updated';

/** Product ids: what admins may name a product, and what may appear in a key. */
export const PRODUCT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PRODUCT_ID_MESSAGE = "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit";

export interface ProductRecord {
  id: string;
  name: string;
  priceCents: number;
  currency: string;
  stock: number;
}

export interface ProductUpsert {
  id: string;
  name: string;
  priceCents: number;
  stock: number;
  /** Default 'USD'. */
  currency?: string | null;
}

/** Stored product JSON (stock lives apart, in a hash Lua decrements). */
interface StoredProduct {
  name: string;
  priceCents: number;
  currency: string;
}

/** A product from its stored JSON and stock, as the scripts return them. */
export function productFrom(id: string, json: string, stock: string | number): ProductRecord {
  const p = JSON.parse(json) as StoredProduct;
  return { id, name: p.name, priceCents: p.priceCents, currency: p.currency, stock: Number(stock) };
}

/** A product as the upsert script takes it: id, stored JSON, stock. */
function storedArgs(p: ProductRecord): Array<string | number> {
  const stored: StoredProduct = { name: p.name, priceCents: p.priceCents, currency: p.currency };
  return [p.id, JSON.stringify(stored), p.stock];
}

/** Entries kept in each instance's in-process copy; the oldest goes first. */
const LOCAL_ENTRIES = 1000;

type CatalogValue = ProductRecord[] | ProductRecord | null;

/** Owns the catalog keys. Default page size 20, at most 100. */
export class CatalogService {
  private readonly local = new Map<string, { version: string; value: CatalogValue }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
  ) {}

  /** The keys every catalog script names, in the order the scripts expect them. */
  private get catalogKeys(): string[] {
    const k = this.keys;
    return [k.catalog('products'), k.catalog('stock'), k.catalog('ids'), k.catalog('version'), k.catalog('cache')];
  }

  /** Creates or replaces a product (admin). Input is validated by the GraphQL input class. */
  async upsert(input: ProductUpsert): Promise<ProductRecord> {
    const product: ProductRecord = {
      id: input.id,
      name: input.name.trim(),
      priceCents: input.priceCents,
      currency: input.currency ?? 'USD',
      stock: input.stock,
    };
    await runScript<number>(this.redis, 'productUpsert', this.catalogKeys, ['put', ...storedArgs(product)]);
    this.pubsub.publish(CATALOG_UPDATED_TOPIC, { productId: product.id });
    return product;
  }

  /**
   * Adds `products` only when the catalog holds no product at all, in one step, so that of
   * several instances starting at once exactly one adds them and a catalog that was ever
   * filled is never touched. Returns how many were added (0 when the catalog was not empty).
   */
  async seedIfEmpty(products: readonly ProductRecord[]): Promise<number> {
    if (products.length === 0) return 0;
    const added = await runScript<number>(this.redis, 'productUpsert', this.catalogKeys, ['seed', ...products.flatMap(storedArgs)]);
    if (added < 0) return 0;
    for (const p of products) this.pubsub.publish(CATALOG_UPDATED_TOPIC, { productId: p.id });
    return added;
  }

  /** Products in id order. */
  list(offset = 0, limit = 20): Promise<ProductRecord[]> {
    return this.read(`list:${offset}:${limit}`, 'list', [offset, limit]) as Promise<ProductRecord[]>;
  }

  /** One product, or null (at once for an id no product can have). */
  async get(id: string): Promise<ProductRecord | null> {
    if (!PRODUCT_ID.test(id)) return null;
    return this.read(`p:${id}`, 'one', [id, '']) as Promise<ProductRecord | null>;
  }

  private async read(entry: string, kind: 'list' | 'one', args: Array<string | number>): Promise<CatalogValue> {
    const mine = this.local.get(entry);
    const k = this.keys;
    const reply = await runScript<[string, string?]>(
      this.redis,
      'catalogRead',
      [k.catalog('version'), k.catalog('cache'), k.catalog('ids'), k.catalog('products'), k.catalog('stock')],
      [entry, kind, ...args, mine?.version ?? ''],
    );
    const [version, json] = reply;
    if (json === undefined && mine) return mine.value;
    const value = JSON.parse(json ?? 'null') as CatalogValue;
    this.local.delete(entry);
    if (this.local.size >= LOCAL_ENTRIES) this.local.delete(this.local.keys().next().value as string);
    this.local.set(entry, { version, value });
    return value;
  }
}
