/**
 * The catalog: products (name, price, currency) and their stock, all under the `{catalog}` slot.
 *
 * Reads (`get`, `list`) go through the shared cache (space `catalog`, docs/caching.md): a hit costs
 * no Redis round trip; a miss is one script, served from the read cache in Redis (which every
 * write drops in its own script) or built there. Every change of a product's stock or price is
 * published by the script that makes it on {@link PRODUCT_UPDATED_TOPIC}, and upserts also
 * publish {@link CATALOG_UPDATED_TOPIC}: each instance drops the entries those messages name
 * ({@link productTag}, {@link CATALOG_TAG}), so a checkout costs no extra PUBLISH, and the
 * instance that made a change drops them at once without waiting for its own message.
 *
 * Stock read here may lag a change by the pub/sub delay (milliseconds; at worst
 * {@link CATALOG_CACHE_MS} for a change nobody announced): checkout and addToCart check stock
 * atomically in their own scripts, so a stale read shows a number, never sells what is not there.
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { runScript } from '../../redis/scripts';
import { AppError, ErrorCode, badInput, notFound } from '../../util/errors';
import type { CacheSpace, SharedCache } from '../cache/shared-cache';

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

/**
 * How long an instance may serve a catalog read without reading it again: the bound for a change
 * whose message never came (a writer outside the gateway that does not publish, a message lost
 * before the subscriber noticed its connection drop). Announced changes drop entries at once.
 */
export const CATALOG_CACHE_MS = 5_000;
/** Tag of every list page (a new product moves the pages after it): dropped by upserts. */
export const CATALOG_TAG = 'catalog';
/** Tag of one product's entry and of every list page showing it: dropped by any change of that product. */
export const productTag = (id: string): string => `product:${id}`;
/**
 * Tag of what is worked out from many products' stock and price (recommendations): dropped by any
 * product change.
 */
export const PRODUCTS_CHANGED_TAG = 'catalog:products';

/** The tags a change of these products drops. */
export function productChangeTags(ids: readonly string[]): string[] {
  return [...ids.map(productTag), PRODUCTS_CHANGED_TAG];
}

/** The product ids a {@link PRODUCT_UPDATED_TOPIC} message names; none for a malformed one. */
export function productIdsOf(msg: unknown): string[] {
  const products = (msg as Partial<ProductUpdatedMessage> | null)?.products;
  if (!Array.isArray(products)) return [];
  const ids: string[] = [];
  for (const p of products) {
    const id = (p as Partial<ProductRecord> | null)?.id;
    if (typeof id === 'string' && PRODUCT_ID.test(id)) ids.push(id);
  }
  return ids;
}

type CatalogValue = ProductRecord[] | ProductRecord | null;

/** Owns the catalog keys. Default page size 20, at most 100. */
export class CatalogService {
  private readonly reads: CacheSpace<CatalogValue>;
  /** Reads are cached only once the change messages are heard (see {@link start}). */
  private listening = false;
  private unlisten: Array<() => void> = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    private readonly cache: SharedCache,
  ) {
    this.reads = cache.space<CatalogValue>('catalog', { ttlMs: CATALOG_CACHE_MS });
  }

  /**
   * Hears the change messages (the scripts' {@link PRODUCT_UPDATED_TOPIC}, the upserts'
   * {@link CATALOG_UPDATED_TOPIC}) before any read is cached; until then every read goes to Redis.
   */
  async start(): Promise<void> {
    if (this.listening) return;
    this.unlisten = await Promise.all([
      this.cache.invalidateOn(PRODUCT_UPDATED_TOPIC, (msg) => {
        const ids = productIdsOf(msg);
        return ids.length ? productChangeTags(ids) : null;
      }),
      // `{ productId }`; an object without a usable id still says the catalog changed: every page goes.
      this.cache.invalidateOn(CATALOG_UPDATED_TOPIC, (msg: unknown) => {
        if (!msg || typeof msg !== 'object') return null;
        const id = (msg as { productId?: unknown }).productId;
        return typeof id === 'string' && PRODUCT_ID.test(id) ? [CATALOG_TAG, ...productChangeTags([id])] : [CATALOG_TAG, PRODUCTS_CHANGED_TAG];
      }),
    ]);
    this.listening = true;
  }

  stop(): void {
    this.listening = false;
    for (const stop of this.unlisten) stop();
    this.unlisten = [];
  }

  /**
   * Drops what this instance holds of these products at once (its own write: the other instances
   * hear of it from the script's message). `lists` also drops every list page (a new product).
   */
  changedHere(ids: readonly string[], lists = false): void {
    this.cache.invalidateTagsHere([...productChangeTags(ids), ...(lists ? [CATALOG_TAG] : [])]);
  }

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
    this.changedHere([product.id], true);
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
        this.changedHere([productId]);
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
    this.changedHere(
      products.map((p) => p.id),
      true,
    );
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

  /**
   * Through the shared cache: a page is tagged with {@link CATALOG_TAG} and each product on it, a
   * product with its own tag. An unknown product (null) and an empty page (past the end) are not
   * kept, so made-up ids and offsets cannot crowd out the entries that are read.
   */
  private read(entry: string, kind: 'list' | 'one', args: Array<string | number>): Promise<CatalogValue> {
    const load = (): Promise<CatalogValue> => this.fromRedis(entry, kind, args);
    if (!this.listening) return load();
    return this.reads.get(entry, load, {
      tags: (v) => (Array.isArray(v) ? [CATALOG_TAG, ...v.map((p) => productTag(p.id))] : v ? [productTag(v.id)] : []),
      ttlMs: (v) => (Array.isArray(v) && v.length === 0 ? 0 : CATALOG_CACHE_MS),
    });
  }

  /** One script: the entry from the read cache in Redis, or built there (and kept) from the catalog. */
  private async fromRedis(entry: string, kind: 'list' | 'one', args: Array<string | number>): Promise<CatalogValue> {
    const k = this.keys;
    const json = await runScript<string>(
      this.redis,
      'catalogRead',
      [k.catalog('cache'), k.catalog('ids'), k.catalog('products'), k.catalog('stock')],
      [entry, kind, ...args],
    );
    return JSON.parse(json) as CatalogValue;
  }
}
