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
import { AppError, ErrorCode, badInput, notFound } from '../../util/errors';

export const CATALOG_UPDATED_TOPIC = 'catalog.updated';
/**
 * Every change of a product's stock or price, published by the script that makes it (upsert,
 * adjustStock, checkout, an order failed or cancelled): `{ products: ProductRecord[] }`, the
 * products as they are after the change (see lua/includes/publishProducts.lua).
 */
export const PRODUCT_UPDATED_TOPIC = 'product.updated';
/** The message on {@link PRODUCT_UPDATED_TOPIC}. */
export interface ProductUpdatedMessage {
  products: ProductRecord[];
}
/** Stock is a whole number from 0 to this. */
export const MAX_STOCK = 1_000_000_000;

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
    await runScript<number>(this.redis, 'productUpsert', this.catalogKeys, ['put', this.keys.channel(PRODUCT_UPDATED_TOPIC), ...storedArgs(product)]);
    this.pubsub.publish(CATALOG_UPDATED_TOPIC, { productId: product.id });
    return product;
  }

  /**
   * Admin: adds `delta` (negative removes) to the product's stock in one script, atomic with
   * checkouts: a restock during a rush loses no sale and a removal takes only units still in stock.
   * NOT_FOUND for an unknown product; BAD_USER_INPUT (extensions: productId, stock, delta) when the
   * stock would go below 0 (units in open orders are not in it: those are never taken back) or
   * past {@link MAX_STOCK}, and nothing changes.
   */
  async adjustStock(productId: string, delta: number): Promise<ProductRecord> {
    if (!PRODUCT_ID.test(productId)) throw notFound('Product');
    if (!Number.isInteger(delta) || delta === 0 || Math.abs(delta) > MAX_STOCK)
      throw badInput(`delta must be a whole number from -${MAX_STOCK} to ${MAX_STOCK}, not 0`, {
        delta: [`must be a whole number from -${MAX_STOCK} to ${MAX_STOCK}, not 0`],
      });
    const k = this.keys;
    const reply = await runScript<[1, string, number] | [-1] | [-2 | -3, number]>(
      this.redis,
      'stockAdjust',
      [k.catalog('products'), k.catalog('stock'), k.catalog('version'), k.catalog('cache')],
      [productId, delta, MAX_STOCK, k.channel(PRODUCT_UPDATED_TOPIC)],
    );
    switch (reply[0]) {
      case 1:
        this.pubsub.publish(CATALOG_UPDATED_TOPIC, { productId });
        return productFrom(productId, reply[1], reply[2]);
      case -1:
        throw notFound('Product');
      case -2:
      case -3: {
        const stock = Number(reply[1]);
        const message =
          reply[0] === -2
            ? `${productId} has ${stock} units in stock: removing ${-delta} would take it below 0 (units in open orders are not in the stock)`
            : `${productId} has ${stock} units in stock: adding ${delta} would take it past ${MAX_STOCK}`;
        throw new AppError(ErrorCode.BAD_USER_INPUT, message, {
          productId,
          stock,
          delta,
          fields: { delta: [reply[0] === -2 ? `must be at least -${stock}` : `must be at most ${MAX_STOCK - stock}`] },
        });
      }
      default: {
        const never: never = reply[0];
        throw new Error(`unexpected stockAdjust reply ${String(never)}`);
      }
    }
  }

  /**
   * Adds `products` only when the catalog holds no product at all, in one step, so that of
   * several instances starting at once exactly one adds them and a catalog that was ever
   * filled is never touched. Returns how many were added (0 when the catalog was not empty).
   */
  async seedIfEmpty(products: readonly ProductRecord[]): Promise<number> {
    if (products.length === 0) return 0;
    const added = await runScript<number>(this.redis, 'productUpsert', this.catalogKeys, [
      'seed',
      this.keys.channel(PRODUCT_UPDATED_TOPIC),
      ...products.flatMap(storedArgs),
    ]);
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
