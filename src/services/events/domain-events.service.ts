/**
 * Domain events for other services: appended to Redis Streams, one stream per
 * domain (`<prefix>:events:{users}`, `<prefix>:events:{catalog}:orders`), trimmed to about
 * EVENT_STREAM_MAXLEN entries. Order events are appended by the order scripts
 * themselves (checkout-11.lua, orderAdvance-6.lua), hence the orders stream in the
 * commerce slot. Consumers read them with consumer groups
 * (XREADGROUP + XACK): delivery is at-least-once, so they dedupe by `id`.
 * Transient notifications (subscriptions) stay on pub/sub; see docs/operations.md, "Domain events (Redis Streams)".
 *
 * Each entry has two fields: `type` (for filtering without parsing) and `event`,
 * the JSON {@link DomainEvent} envelope.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { OrderStatus } from '../commerce/order-status';

/** The order fields every order event carries. */
export interface OrderEventData {
  orderId: string;
  userId: string;
  status: OrderStatus;
  items: Array<{ productId: string; quantity: number; unitPriceCents: number }>;
  totalCents: number;
  currency: string;
  /** Why it failed; null otherwise. */
  reason: string | null;
}

/** Event type -> its `data`. Adding a type here documents it. */
export interface DomainEventData {
  'user.registered': { userId: string; email: string; name: string };
  'order.placed': OrderEventData;
  'order.completed': OrderEventData;
  'order.failed': OrderEventData;
}

export type DomainEventType = keyof DomainEventData;

/** The JSON in each entry's `event` field (schema version 1). */
export interface DomainEvent<T extends DomainEventType = DomainEventType> {
  /** Unique per event; the same for a re-appended one when the caller passes a dedupe id. */
  id: string;
  type: T;
  version: 1;
  /** ISO-8601 UTC. */
  occurredAt: string;
  /** The registry id of the instance that appended it. */
  source: string;
  data: DomainEventData[T];
}

/** Stream (domain) of each event type. */
export const EVENT_DOMAINS: Record<DomainEventType, string> = {
  'user.registered': 'users',
  'order.placed': 'orders',
  'order.completed': 'orders',
  'order.failed': 'orders',
};

export class DomainEventsService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** Default 100000 (EVENT_STREAM_MAXLEN); trimming is approximate (`MAXLEN ~`), which is much cheaper. */
    readonly maxLen: number,
    /** The registry id of this instance, each event's `source`. */
    readonly source: string,
  ) {}

  /** The stream key of a domain (`users`, `orders`). */
  stream(domain: string): string {
    return this.keys.eventStream(domain);
  }

  /**
   * Appends one event and resolves with its stream entry id once Redis has it.
   * Throws when Redis is unreachable: the caller decides whether that fails its
   * operation. `opts.id` gives a deterministic event id (e.g. `order.completed:<orderId>`)
   * so a retried step appends an event consumers recognise as a duplicate.
   */
  async append<T extends DomainEventType>(type: T, data: DomainEventData[T], opts: { id?: string } = {}): Promise<string> {
    const event: DomainEvent<T> = { id: opts.id ?? randomUUID(), type, version: 1, occurredAt: new Date().toISOString(), source: this.source, data };
    const entryId = await this.redis.xadd(this.stream(EVENT_DOMAINS[type]), 'MAXLEN', '~', this.maxLen, '*', 'type', type, 'event', JSON.stringify(event));
    return entryId as string;
  }
}
