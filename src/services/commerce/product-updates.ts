/**
 * Live product updates (`productUpdated`): anyone may follow the stock and price of up to
 * {@link MAX_WATCHED_PRODUCTS} products. Every script that changes a product's stock or price
 * publishes the products as they are after the change on one channel (`product.updated`); each
 * instance with watchers holds one Redis subscription to it, parses each message once and hands
 * the same product object to every watcher of that product on the instance. So a change costs
 * one message per instance, whatever the number of watchers; what each watcher costs is the
 * delivery (see ws/shared-execution.ts, which writes one serialised message to many sockets).
 *
 * Unknown ids are accepted: they cost nothing until a product with that id is created, whose
 * first message then arrives like any other. No message is sent at subscribe time: read the
 * products (`products`, `product`) once the subscription is open.
 */
import type { GatewayPubSub } from '../../redis/pubsub';
import type { Logger } from '../../util/logger';
import { badInput } from '../../util/errors';
import { PushIterator } from '../../util/push-iterator';
import { PRODUCT_ID, PRODUCT_ID_MESSAGE, PRODUCT_UPDATED_TOPIC, type ProductRecord, type ProductUpdatedMessage } from './catalog.service';

/** Products one subscription may follow. */
export const MAX_WATCHED_PRODUCTS = 100;
/** Messages kept for a watcher that is not reading (the oldest go first); deliveries written directly to a socket do not queue here. */
const WATCHER_BUFFER = 100;
/** How long the channel stays subscribed after its last watcher left. */
const IDLE_UNLISTEN_MS = 30_000;

/** The ids as a set; BAD_USER_INPUT for none, more than {@link MAX_WATCHED_PRODUCTS}, or one no product can have. */
export function watchedIds(ids: readonly string[]): string[] {
  if (ids.length < 1 || ids.length > MAX_WATCHED_PRODUCTS)
    throw badInput(`ids must hold 1 to ${MAX_WATCHED_PRODUCTS} product ids, not ${ids.length}`, {
      ids: [`must hold 1 to ${MAX_WATCHED_PRODUCTS} product ids`],
    });
  const bad = ids.findIndex((id) => typeof id !== 'string' || !PRODUCT_ID.test(id));
  if (bad >= 0) throw badInput(`ids[${bad}] is not a product id: it ${PRODUCT_ID_MESSAGE}`, { [`ids[${bad}]`]: [PRODUCT_ID_MESSAGE] });
  return [...new Set(ids)];
}

export class ProductUpdates {
  private readonly byProduct = new Map<string, Set<PushIterator<ProductRecord>>>();
  private watchers = 0;
  private listening: Promise<() => void> | null = null;
  private idle: NodeJS.Timeout | null = null;

  constructor(
    private readonly pubsub: GatewayPubSub,
    private readonly log: Logger,
  ) {}

  /** Watchers on this instance now. */
  get size(): number {
    return this.watchers;
  }

  /** Watchers of one product on this instance now. */
  watching(productId: string): number {
    return this.byProduct.get(productId)?.size ?? 0;
  }

  /** Every later change of these products (ids checked with {@link watchedIds}), once the channel is subscribed. */
  async watch(ids: readonly string[]): Promise<PushIterator<ProductRecord>> {
    const wanted = watchedIds(ids);
    await this.listen();
    const it = new PushIterator<ProductRecord>(() => {
      this.watchers--;
      for (const id of wanted) {
        const set = this.byProduct.get(id);
        set?.delete(it);
        if (set && !set.size) this.byProduct.delete(id);
      }
      this.maybeIdle();
    }, WATCHER_BUFFER);
    this.watchers++;
    for (const id of wanted) {
      let set = this.byProduct.get(id);
      if (!set) this.byProduct.set(id, (set = new Set()));
      set.add(it);
    }
    return it;
  }

  private onMessage(msg: ProductUpdatedMessage): void {
    if (!Array.isArray(msg?.products)) return;
    for (const product of msg.products) {
      const set = this.byProduct.get(product.id);
      if (!set) continue;
      // The same object for every watcher: execution results are shared per payload object.
      for (const it of set) it.push(product);
    }
  }

  private async listen(): Promise<void> {
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = null;
    }
    this.listening ??= this.pubsub.listen<ProductUpdatedMessage>(PRODUCT_UPDATED_TOPIC, (m) => this.onMessage(m));
    try {
      await this.listening;
    } catch (err) {
      this.listening = null;
      throw err;
    }
  }

  private maybeIdle(): void {
    if (this.watchers || this.idle || !this.listening) return;
    this.idle = setTimeout(() => {
      this.idle = null;
      if (this.watchers) return;
      const listening = this.listening;
      this.listening = null;
      void listening?.then((stop) => stop()).catch((err: Error) => this.log.debug({ err: err.message }, 'product updates: unsubscribe failed'));
    }, IDLE_UNLISTEN_MS);
    this.idle.unref();
  }

  /** Ends every watch and leaves the channel. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const all = new Set<PushIterator<ProductRecord>>();
    for (const set of this.byProduct.values()) for (const it of set) all.add(it);
    for (const it of all) it.end();
    const listening = this.listening;
    this.listening = null;
    const stop = await listening?.catch(() => null);
    stop?.();
  }
}
