/**
 * Checkout and orders. Checkout is one script in the `{catalog}` slot: it checks
 * every cart line against stock and either sells all of them (order PENDING,
 * cart emptied) or nothing. Orders then move PENDING -> PROCESSING -> COMPLETED,
 * or FAILED with their stock given back, through {@link OrderService.process},
 * which the `order.process` job runs and which is safe to run again. The same
 * scripts append the order domain events (placed, completed, failed), so an
 * order change and its event happen together or not at all.
 */
import { AppError, ErrorCode, badInput, notFound } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { MAX_ORDER_CENTS } from './money';
import type { OrderStatus } from './order-status';
import { newId, sha256 } from '../../util/crypto';
import type { DomainEventsService } from '../events/domain-events.service';
import type { UserRecord } from '../sessions/user.service';
import { PRODUCT_UPDATED_TOPIC } from './catalog.service';

export const ORDER_UPDATED_TOPIC = 'order.updated';
export const ORDER_PROCESS_JOB = 'order.process';
/** The job id of an order's `order.process` job: one job per order, however often it is enqueued. */
export const orderJobId = (orderId: string): string => `order-${orderId}`;
/** `orders` (admins): default and largest page, largest offset. */
export const ORDERS_PAGE = { default: 50, max: 100, maxOffset: 100_000 } as const;
/** Statuses an order can still be cancelled in. */
export const CANCELLABLE: readonly OrderStatus[] = ['PENDING', 'PROCESSING'];
/** Statuses an order never leaves. */
export const FINAL_STATUSES: readonly OrderStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export type { OrderStatus };

export interface OrderItemRecord {
  productId: string;
  name: string;
  unitPriceCents: number;
  quantity: number;
}

export interface OrderRecord {
  id: string;
  userId: string;
  status: OrderStatus;
  items: OrderItemRecord[];
  totalCents: number;
  currency: string;
  createdAt: number;
  updatedAt: number;
  /** Why the order failed, when it did. */
  reason: string | null;
  /** Its status version: 1 at checkout, one more at each status change (0 for orders older than the field). */
  version: number;
}

/** Published on `order.updated` by the order scripts themselves (checkout, orderAdvance, orderCancel), at every change. */
export interface OrderUpdatedEvent {
  orderId: string;
  userId: string;
  status: OrderStatus;
  /** The order's status version after this change. */
  v: number;
  /** When it changed (ms): the order's new `updatedAt`. */
  at: number;
}

/** The part of the job queue the orders need; absent until a queue is installed. */
export interface InternalQueue {
  /** `owner` (`u:<userId>`) lets that user read the job (`job`, `jobUpdated`, `myJobs`). */
  enqueueInternal(type: string, data: Record<string, unknown>, opts?: { jobId?: string; owner?: string | null }): Promise<{ id: string }>;
  /** Removes the job while it is WAITING or DELAYED (freeing its owner's quota); false once it has started or is gone. */
  removePending(jobId: string, owner: string | null): Promise<boolean>;
}

/** Thrown by a fulfiller to fail an order for good (its stock is released); any other error is retried. */
export class FulfilmentRefused extends Error {
  override readonly name = 'FulfilmentRefused';
}

/**
 * Completes an order (payment capture, shipping request...). The default accepts every order.
 * It may run more than once for one order (a retried or re-delivered job), so its effects
 * must be keyed by the order id; the order's own state changes happen once regardless.
 */
export type Fulfiller = (order: OrderRecord) => Promise<void>;

const ORDER_ID = /^[0-9a-f]{32}$/;

export function orderFromFlat(flat: string[]): OrderRecord {
  const h: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) h[flat[i]] = flat[i + 1];
  return {
    id: h.id,
    userId: h.uid,
    status: h.status as OrderStatus,
    items: JSON.parse(h.items) as OrderItemRecord[],
    totalCents: Number(h.total),
    currency: h.cur,
    createdAt: Number(h.created),
    updatedAt: Number(h.updated),
    reason: h.reason || null,
    version: Number(h.v ?? 0),
  };
}

type CheckoutReply = [1 | 2, string[]] | [-1] | [-5] | [-6] | [-2, ...Array<[string, number, number]>];
type AdvanceReply = [0 | 1, string[]] | [-1];
type CancelReply = [0 | 1, string[]] | [-1] | [-3, OrderStatus];

/** Who acts on an order: its owner, or an admin by its roles. */
export type OrderViewer = Pick<UserRecord, 'id' | 'roles'>;
const isAdmin = (viewer: OrderViewer): boolean => viewer.roles.includes('ADMIN');
/** The job owner of a user's jobs, as the job service spells it. */
const jobOwner = (userId: string): string => `u:${userId}`;

/** Owns the order keys and the checkout script. */
export class OrderService {
  private queue: () => InternalQueue | undefined = () => undefined;
  private fulfil: Fulfiller = async () => {};
  private readonly completed: Array<(order: OrderRecord) => Promise<void>> = [];
  private stockChanged: (productIds: string[]) => void = () => {};

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly log: Logger,
    /** Where the scripts append order.placed / order.completed / order.failed. */
    private readonly events: DomainEventsService,
  ) {}

  /** Where checkout enqueues `order.process`; looked up at each checkout, so the queue may be installed later. */
  useQueue(queue: () => InternalQueue | undefined): void {
    this.queue = queue;
  }

  /**
   * Runs after this instance's script changed these products' stock (a sale, a cancel, a failed
   * order): the catalog drops its cached reads of them at once, without waiting for the script's
   * own product message, which tells every other instance.
   */
  onStockChanged(fn: (productIds: string[]) => void): void {
    this.stockChanged = fn;
  }

  /** Replaces the fulfilment step of {@link process}. */
  useFulfiller(fulfil: Fulfiller): void {
    this.fulfil = fulfil;
  }

  /**
   * Adds a step run by {@link process} once the order is COMPLETED (e.g. counting its revenue).
   * It runs again whenever process meets the order COMPLETED (a retried job), so it must be
   * idempotent per order; if it throws, process throws and the job is retried.
   */
  onCompleted(fn: (order: OrderRecord) => Promise<void>): void {
    this.completed.push(fn);
  }

  /**
   * Buys the user's cart. With an idempotency key, every retry returns the order
   * the first attempt made. BAD_USER_INPUT for an empty cart; OUT_OF_STOCK with
   * `lines` [{productId, requested, available}] when any line is short (nothing is sold).
   * `log` is the request's.
   */
  async checkout(userId: string, idempotencyKey?: string | null, log: Logger = this.log): Promise<OrderRecord> {
    const k = this.keys;
    const orderId = newId();
    const now = Date.now();
    const reply = await runScript<CheckoutReply>(
      this.redis,
      'checkout',
      [
        k.cart(`u:${userId}`),
        k.catalog('products'),
        k.catalog('stock'),
        k.catalog('version'),
        k.catalog('cache'),
        k.userOrders(userId),
        k.userOrderKeys(userId),
        k.catalog('bestsellers'),
        k.order(orderId),
        this.events.stream('orders'),
        k.catalog('pending'),
        k.orderIndex(),
        k.orderIndex('PENDING'),
      ],
      [
        orderId,
        userId,
        now,
        idempotencyKey ? sha256(idempotencyKey) : '',
        k.order(''),
        k.boughtWith(''),
        k.channel(ORDER_UPDATED_TOPIC),
        new Date(now).toISOString(),
        this.events.source,
        this.events.maxLen,
        MAX_ORDER_CENTS,
        k.channel(PRODUCT_UPDATED_TOPIC),
      ],
    );
    switch (reply[0]) {
      case 1:
      case 2: {
        const order = orderFromFlat(reply[1]);
        if (reply[0] === 1) this.stockChanged(order.items.map((i) => i.productId));
        if (order.status === 'PENDING') await this.enqueue(order, log);
        return order;
      }
      case -1:
        throw badInput('Your cart is empty', { cart: ['must hold at least one product'] });
      case -5:
        throw badInput('Your cart mixes currencies', { cart: ['must be priced in one currency'] });
      case -6:
        throw badInput(`An order may total at most ${MAX_ORDER_CENTS} cents`, { cart: [`must total at most ${MAX_ORDER_CENTS} cents`] });
      case -2: {
        const lines = (reply.slice(1) as Array<[string, number, number]>).map(([productId, requested, available]) => ({ productId, requested, available }));
        const summary = lines.map((l) => `${l.productId} (${l.available} available, ${l.requested} wanted)`).join(', ');
        throw new AppError(ErrorCode.OUT_OF_STOCK, `Not enough stock for ${summary}; nothing was bought`, { lines });
      }
      default: {
        const never: never = reply[0];
        throw new Error(`unexpected checkout reply ${String(never)}`);
      }
    }
  }

  /** An order as the viewer may see it: the owner's or any for an admin; null otherwise and for unknown ids. */
  async findVisible(viewer: OrderViewer, orderId: string): Promise<OrderRecord | null> {
    const order = await this.find(orderId);
    return order && this.visible(viewer, order) ? order : null;
  }

  /** True when the viewer may see and cancel the order: its owner, or an admin. */
  visible(viewer: OrderViewer | null, order: OrderRecord): boolean {
    return viewer !== null && (order.userId === viewer.id || isAdmin(viewer));
  }

  /**
   * Cancels the order for its owner or an admin while it is PENDING or PROCESSING: one script
   * makes it CANCELLED and puts its units back to stock, once (a retry, or a cancel racing on
   * another instance, finds it CANCELLED and changes nothing; both answer the cancelled order).
   * Then its job is removed if it has not started; a job already running meets a CANCELLED order,
   * which it does not move on (see {@link process}). NOT_FOUND for anyone else and for unknown ids
   * (the same answer); BAD_USER_INPUT once the order is COMPLETED or FAILED.
   */
  async cancel(viewer: OrderViewer, orderId: string, log: Logger = this.log): Promise<OrderRecord> {
    if (!ORDER_ID.test(orderId)) throw notFound('Order');
    const k = this.keys;
    const now = Date.now();
    const reply = await runScript<CancelReply>(
      this.redis,
      'orderCancel',
      [
        k.order(orderId),
        k.catalog('stock'),
        k.catalog('version'),
        k.catalog('cache'),
        this.events.stream('orders'),
        k.catalog('pending'),
        k.catalog('products'),
      ],
      [
        viewer.id,
        isAdmin(viewer) ? '1' : '0',
        now,
        k.channel(ORDER_UPDATED_TOPIC),
        new Date(now).toISOString(),
        this.events.source,
        this.events.maxLen,
        k.orderIndex(''),
        k.channel(PRODUCT_UPDATED_TOPIC),
      ],
    );
    if (reply[0] === -1) throw notFound('Order');
    if (reply[0] === -3) {
      const status = reply[1];
      throw badInput(`Order ${orderId} is ${status}: only a PENDING or PROCESSING order can be cancelled`, {
        id: [`is ${status}; only a PENDING or PROCESSING order can be cancelled`],
      });
    }
    const order = orderFromFlat(reply[1]);
    if (reply[0] === 1) this.stockChanged(order.items.map((i) => i.productId));
    // Also on a repeated cancel: the first one's removal may have failed.
    await this.stopJob(order, log);
    return order;
  }

  /** Removes a cancelled order's job if it has not started; a failure only leaves the job to find the order CANCELLED. */
  private async stopJob(order: OrderRecord, log: Logger): Promise<void> {
    const queue = this.queue();
    if (!queue) return;
    try {
      await queue.removePending(orderJobId(order.id), jobOwner(order.userId));
    } catch (err) {
      log.warn({ err, orderId: order.id }, "could not remove a cancelled order's job; it will find the order CANCELLED");
    }
  }

  /**
   * Admins: orders newest first, every order or those with one status now. The status indexes
   * are kept by the order scripts; orders placed before they existed are not listed.
   */
  async list(status: OrderStatus | null, limit: number = ORDERS_PAGE.default, offset = 0): Promise<OrderRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.orderIndex(status ?? undefined), offset, offset + limit - 1);
    const orders = await Promise.all(ids.map((id) => this.find(id)));
    return orders.filter((o): o is OrderRecord => o !== null);
  }

  async find(orderId: string): Promise<OrderRecord | null> {
    if (!ORDER_ID.test(orderId)) return null;
    const h = await this.redis.hgetall(this.keys.order(orderId));
    return h.id ? orderFromFlat(Object.entries(h).flat()) : null;
  }

  /** The user's orders, newest first; default 50. */
  async listForUser(userId: string, limit = 50): Promise<OrderRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.userOrders(userId), 0, limit - 1);
    const orders = await Promise.all(ids.map((id) => this.find(id)));
    return orders.filter((o): o is OrderRecord => o !== null);
  }

  /**
   * Runs the order to the end: PENDING -> PROCESSING, the fulfiller, then
   * COMPLETED; a {@link FulfilmentRefused} makes it FAILED with its stock
   * released. Safe to call again at any point: finished orders are returned as
   * they are and no step is applied twice. Each step moves the order only from the
   * status it expects, in one script, so an order cancelled meanwhile (before the
   * job started, or while the fulfiller ran) stays CANCELLED and is returned as it is. Reports progress 50 then 100. The
   * {@link onCompleted} steps run whenever it finds or leaves the order COMPLETED.
   */
  async process(orderId: string, onProgress?: (percent: number) => Promise<void> | void): Promise<OrderRecord> {
    let order = await this.advance(orderId, ['PENDING'], 'PROCESSING');
    if (order.status === 'COMPLETED') await this.afterCompletion(order);
    if (order.status !== 'PROCESSING') return order;
    await onProgress?.(50);
    try {
      await this.fulfil(order);
    } catch (err) {
      if (!(err instanceof FulfilmentRefused)) throw err;
      order = await this.fail(orderId, err.message);
      await onProgress?.(100);
      return order;
    }
    order = await this.advance(orderId, ['PROCESSING'], 'COMPLETED');
    if (order.status === 'COMPLETED') await this.afterCompletion(order);
    await onProgress?.(100);
    return order;
  }

  private async afterCompletion(order: OrderRecord): Promise<void> {
    for (const fn of this.completed) await fn(order);
  }

  /**
   * Enqueues `order.process` again for orders PENDING for longer than `olderThanMs` (at most
   * `limit` per call), and returns how many. Checkout hands each order to the queue after its
   * script; if that hand-off failed or its answer was lost (Redis timed out, the process died),
   * the order would otherwise stay PENDING holding its stock until the client retried with the
   * same idempotency key. The job id is the order's, so an order whose job exists gets no second.
   */
  async requeueStale(olderThanMs: number, limit = 100): Promise<number> {
    const queue = this.queue();
    if (!queue) return 0;
    const ids = await this.redis.zrangebyscore(this.keys.catalog('pending'), '-inf', Date.now() - olderThanMs, 'LIMIT', 0, limit);
    for (const id of ids) {
      const order = await this.find(id);
      if (order?.status === 'PENDING')
        await queue.enqueueInternal(ORDER_PROCESS_JOB, { orderId: id }, { jobId: orderJobId(id), owner: jobOwner(order.userId) });
    }
    if (ids.length) this.log.warn({ orders: ids.length }, 'orders left PENDING were handed to the queue again');
    return ids.length;
  }

  /** Fails a PENDING or PROCESSING order and gives its units back to stock, once. */
  fail(orderId: string, reason: string): Promise<OrderRecord> {
    return this.advance(orderId, ['PENDING', 'PROCESSING'], 'FAILED', reason.slice(0, 500) || 'failed');
  }

  private async advance(orderId: string, from: OrderStatus[], to: OrderStatus, reason = ''): Promise<OrderRecord> {
    const k = this.keys;
    const now = Date.now();
    const reply = await runScript<AdvanceReply>(
      this.redis,
      'orderAdvance',
      [
        k.order(orderId),
        k.catalog('stock'),
        k.catalog('version'),
        k.catalog('cache'),
        this.events.stream('orders'),
        k.catalog('pending'),
        k.catalog('products'),
      ],
      [
        from.join(','),
        to,
        now,
        to === 'FAILED' ? '1' : '0',
        reason,
        k.channel(ORDER_UPDATED_TOPIC),
        new Date(now).toISOString(),
        this.events.source,
        this.events.maxLen,
        k.orderIndex(''),
        k.channel(PRODUCT_UPDATED_TOPIC),
      ],
    );
    if (reply[0] === -1) throw new Error(`order ${orderId} does not exist`);
    const order = orderFromFlat(reply[1]);
    if (reply[0] === 1 && to === 'FAILED') this.stockChanged(order.items.map((i) => i.productId));
    return order;
  }

  private async enqueue(order: OrderRecord, log: Logger): Promise<void> {
    const queue = this.queue();
    if (!queue) return;
    const orderId = order.id;
    try {
      // One job per order however often checkout is retried; its buyer may watch it (jobUpdated, myJobs).
      await queue.enqueueInternal(ORDER_PROCESS_JOB, { orderId }, { jobId: orderJobId(orderId), owner: jobOwner(order.userId) });
    } catch (err) {
      // The sale stands and the buyer must learn of it; a retry of the checkout with the
      // same idempotency key enqueues the order again, and the job id keeps it to one job.
      log.error({ err, orderId }, 'could not enqueue order processing: order left PENDING');
    }
  }
}
