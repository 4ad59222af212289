/**
 * Checkout and orders. Checkout is one script in the `{catalog}` slot: it checks
 * every cart line against stock and either sells all of them (order PENDING,
 * cart emptied) or nothing. Orders then move PENDING -> PROCESSING -> COMPLETED,
 * or FAILED with their stock given back, through {@link OrderService.process},
 * which the `order.process` job runs and which is safe to run again. The same
 * scripts append the order domain events (placed, completed, failed), so an
 * order change and its event happen together or not at all.
 */
import { AppError, ErrorCode, badInput } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { MAX_ORDER_CENTS } from './money';
import type { OrderStatus } from './order-status';
import { newId, sha256 } from '../../util/crypto';
import type { DomainEventsService } from '../events/domain-events.service';
import type { UserRecord } from '../sessions/user.service';

export const ORDER_UPDATED_TOPIC = 'order.updated';
export const ORDER_PROCESS_JOB = 'order.process';

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
}

/** Published on `order.updated` by the checkout and orderAdvance scripts themselves, at every change. */
export interface OrderUpdatedEvent {
  orderId: string;
  userId: string;
  status: OrderStatus;
}

/** The part of the job queue checkout needs; absent until a queue is installed. */
export interface InternalQueue {
  enqueueInternal(type: string, data: Record<string, unknown>, opts?: { jobId?: string }): Promise<{ id: string }>;
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
  };
}

type CheckoutReply = [1 | 2, string[]] | [-1] | [-5] | [-6] | [-2, ...Array<[string, number, number]>];
type AdvanceReply = [0 | 1, string[]] | [-1];

/** Owns the order keys and the checkout script. */
export class OrderService {
  private queue: () => InternalQueue | undefined = () => undefined;
  private fulfil: Fulfiller = async () => {};
  private readonly completed: Array<(order: OrderRecord) => Promise<void>> = [];

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
      ],
    );
    switch (reply[0]) {
      case 1:
      case 2: {
        const order = orderFromFlat(reply[1]);
        if (order.status === 'PENDING') await this.enqueue(order.id, log);
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
  async findVisible(viewer: Pick<UserRecord, 'id' | 'roles'>, orderId: string): Promise<OrderRecord | null> {
    const order = await this.find(orderId);
    if (!order || (order.userId !== viewer.id && !viewer.roles.includes('ADMIN'))) return null;
    return order;
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
   * they are and no step is applied twice. Reports progress 50 then 100. The
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
    for (const id of ids) await queue.enqueueInternal(ORDER_PROCESS_JOB, { orderId: id }, { jobId: `order-${id}` });
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
      [k.order(orderId), k.catalog('stock'), k.catalog('version'), k.catalog('cache'), this.events.stream('orders'), k.catalog('pending')],
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
      ],
    );
    if (reply[0] === -1) throw new Error(`order ${orderId} does not exist`);
    return orderFromFlat(reply[1]);
  }

  private async enqueue(orderId: string, log: Logger): Promise<void> {
    const queue = this.queue();
    if (!queue) return;
    try {
      // One job per order however often checkout is retried.
      await queue.enqueueInternal(ORDER_PROCESS_JOB, { orderId }, { jobId: `order-${orderId}` });
    } catch (err) {
      // The sale stands and the buyer must learn of it; a retry of the checkout with the
      // same idempotency key enqueues the order again, and the job id keeps it to one job.
      log.error({ err, orderId }, 'could not enqueue order processing: order left PENDING');
    }
  }
}
