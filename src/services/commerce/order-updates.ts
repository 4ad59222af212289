/**
 * Live order updates (`orderUpdated`): the order as it is now, then one message per status
 * change, wherever the change happens. The order scripts publish every change on the
 * `order.updated` channel themselves ({orderId, userId, status, v, at}), so no change goes
 * untold; each instance with watchers holds one Redis subscription to that channel and hands
 * each change to the watchers of its order. A message is the order as first read with the
 * event's status and time: no Redis read per change.
 *
 * No gap, no repeat: a watcher subscribes before it reads the order, keeps what arrives in the
 * meantime, and then drops every change its read already shows by the order's status version
 * (`v`, one more at each change). An order in a final status (COMPLETED, FAILED, CANCELLED)
 * never changes again, so the watch completes after it.
 */
import type { GatewayPubSub } from '../../redis/pubsub';
import type { Logger } from '../../util/logger';
import { notFound } from '../../util/errors';
import { PushIterator } from '../../util/push-iterator';
import { FINAL_STATUSES, ORDER_UPDATED_TOPIC, type OrderRecord, type OrderService, type OrderUpdatedEvent, type OrderViewer } from './order.service';

/** How long the channel stays subscribed after its last watcher left (a page reload comes back). */
const IDLE_UNLISTEN_MS = 30_000;

interface Watcher {
  it: PushIterator<OrderRecord>;
  /** The order as first read; null until then (changes wait in `early`). */
  order: OrderRecord | null;
  early: OrderUpdatedEvent[];
}

export class OrderUpdates {
  private readonly byOrder = new Map<string, Set<Watcher>>();
  private listening: Promise<() => void> | null = null;
  private idle: NodeJS.Timeout | null = null;

  constructor(
    private readonly orders: OrderService,
    private readonly pubsub: GatewayPubSub,
    private readonly log: Logger,
  ) {}

  /**
   * The order now, then each status change; completes after a final status. NOT_FOUND, the
   * same answer as for an id that does not exist, unless the viewer owns the order or is an
   * admin (`viewer` null: anonymous).
   */
  async watch(viewer: OrderViewer | null, orderId: string): Promise<PushIterator<OrderRecord>> {
    // Nobody but a signed-in user can see an order: no Redis subscription or read for anyone else.
    if (!viewer) throw notFound('Order');
    await this.listen();
    let set = this.byOrder.get(orderId);
    if (!set) this.byOrder.set(orderId, (set = new Set()));
    const watchers = set;
    const w: Watcher = {
      order: null,
      early: [],
      it: new PushIterator<OrderRecord>(() => {
        watchers.delete(w);
        if (!watchers.size && this.byOrder.get(orderId) === watchers) this.byOrder.delete(orderId);
        this.maybeIdle();
      }),
    };
    watchers.add(w);
    let order: OrderRecord | null;
    try {
      order = await this.orders.find(orderId);
    } catch (err) {
      w.it.end();
      throw err;
    }
    if (!order || !this.orders.visible(viewer, order)) {
      w.it.end();
      throw notFound('Order');
    }
    w.order = order;
    w.it.push(order);
    if (FINAL_STATUSES.includes(order.status)) {
      w.it.end();
      return w.it;
    }
    for (const e of w.early.splice(0)) this.offer(w, e);
    return w.it;
  }

  private offer(w: Watcher, e: OrderUpdatedEvent): void {
    const seen = w.order;
    if (!seen) {
      w.early.push(e);
      return;
    }
    if (e.v <= seen.version) return;
    const next: OrderRecord = { ...seen, status: e.status, updatedAt: e.at, version: e.v };
    w.order = next;
    w.it.push(next);
    if (FINAL_STATUSES.includes(next.status)) w.it.end();
  }

  private onEvent(e: OrderUpdatedEvent): void {
    const set = this.byOrder.get(e.orderId);
    if (!set || typeof e.v !== 'number') return;
    for (const w of [...set]) this.offer(w, e);
  }

  private async listen(): Promise<void> {
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = null;
    }
    this.listening ??= this.pubsub.listen<OrderUpdatedEvent>(ORDER_UPDATED_TOPIC, (e) => this.onEvent(e));
    try {
      await this.listening;
    } catch (err) {
      this.listening = null;
      throw err;
    }
  }

  private maybeIdle(): void {
    if (this.byOrder.size || this.idle || !this.listening) return;
    this.idle = setTimeout(() => {
      this.idle = null;
      if (this.byOrder.size) return;
      const listening = this.listening;
      this.listening = null;
      void listening?.then((stop) => stop()).catch((err: Error) => this.log.debug({ err: err.message }, 'order updates: unsubscribe failed'));
    }, IDLE_UNLISTEN_MS);
    this.idle.unref();
  }

  /** Ends every watch and leaves the channel. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    for (const set of [...this.byOrder.values()]) for (const w of [...set]) w.it.end();
    const listening = this.listening;
    this.listening = null;
    const stop = await listening?.catch(() => null);
    stop?.();
  }
}
