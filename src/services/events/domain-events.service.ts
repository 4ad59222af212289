/**
 * Domain events for other services: appended to Redis Streams, one stream per
 * domain (`<prefix>:events:{users}`, `<prefix>:events:{catalog}:orders`), trimmed to about
 * EVENT_STREAM_MAXLEN entries. Order events are appended by the order scripts
 * themselves (checkout-13.lua, orderAdvance-7.lua, orderCancel-7.lua), hence the orders stream in the
 * commerce slot. Consumers read them with consumer groups
 * (XREADGROUP + XACK): delivery is at-least-once, so they dedupe by `id`.
 * Transient notifications (subscriptions) stay on pub/sub; see docs/operations.md, "Domain events (Redis Streams)".
 *
 * Each entry has two fields: `type` (for filtering without parsing) and `event`,
 * the JSON {@link DomainEvent} envelope.
 *
 * Instance events (`instance.joined`, `instance.left`) are appended by the registry scripts to
 * `<prefix>:events:{registry}:instances`, hence that stream in the registry slot. Admins follow
 * every stream live with the domainEvents subscription ({@link DomainEventsService.subscribe},
 * event-feed.ts). All of it, for other services too: docs/events.md.
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { AppError, badInput, ErrorCode } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { OrderStatus } from '../commerce/order-status';
import { CURSOR_FORMAT, CURSOR_MAX_LENGTH, cursorOf, DOMAIN_ORDER, entryIdMs, entryIdText, parseCursor, type Domain, type Position } from './event-position';
import { EventFeed, EventSubscription, type SubscriptionMessage } from './event-feed';
import { CursorExpiredError, type StreamEntry, type StreamSpec } from './merged-reader';

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

/** What instance events carry: the registry record of the instance (as the `instances` query lists it) and why. */
export interface InstanceEventData {
  instanceId: string;
  /** `gateway` or `worker`: what it was started as. */
  role: string;
  roles: string[];
  version: string;
  /** Where a gateway serves HTTP; null for a worker. */
  address: string | null;
  hostname: string;
  pid: number;
  /** Milliseconds since the epoch, as in the registry record. */
  startedAt: number;
  /** joined: `registered`; left: `shutdown` (it deregistered) or `lapsed` (no heartbeat for REGISTRY_TTL). */
  reason: 'registered' | 'shutdown' | 'lapsed';
}

/** Event type -> its `data`. Adding a type here documents it. */
export interface DomainEventData {
  'user.registered': { userId: string; email: string; name: string };
  'order.placed': OrderEventData;
  'order.completed': OrderEventData;
  'order.failed': OrderEventData;
  'order.cancelled': OrderEventData;
  'instance.joined': InstanceEventData;
  'instance.left': InstanceEventData;
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
export const EVENT_DOMAINS: Record<DomainEventType, Domain> = {
  'user.registered': 'users',
  'order.placed': 'orders',
  'order.completed': 'orders',
  'order.failed': 'orders',
  'order.cancelled': 'orders',
  'instance.joined': 'instances',
  'instance.left': 'instances',
};

/** The event types the gateway appends: what `domainEvents(types)` accepts. */
export const DOMAIN_EVENT_TYPES = Object.keys(EVENT_DOMAINS) as DomainEventType[];

/** At most this many entries in `domainEvents(types)`. */
export const MAX_EVENT_TYPES = 20;

/** What the domainEvents subscription hands out for one stream entry. */
export interface DomainEventView {
  /** Pass as `after` to resume right after this event (see event-position.ts). */
  cursor: string;
  type: string;
  at: Date;
  data: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One field of a stream entry's flat field list. */
function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/**
 * The view of an entry. The gateway's own entries carry the envelope; an entry another service
 * appended is shown as well as it can be: `type` from its `type` field, `data` and `at` from an
 * `event` envelope when it has one, else `{}` and the time in its id.
 */
export function eventView(entry: StreamEntry, tied: boolean): DomainEventView {
  let envelope: unknown = null;
  const json = field(entry.fields, 'event');
  if (json !== undefined) {
    try {
      envelope = JSON.parse(json);
    } catch {
      envelope = null;
    }
  }
  const env = isObject(envelope) ? envelope : {};
  const occurred = typeof env.occurredAt === 'string' ? Date.parse(env.occurredAt) : NaN;
  return {
    cursor: cursorOf(entry.id, entry.domain, tied),
    type: field(entry.fields, 'type') ?? (typeof env.type === 'string' ? env.type : ''),
    at: new Date(Number.isFinite(occurred) ? occurred : entryIdMs(entry.id)),
    data: isObject(env.data) ? env.data : {},
  };
}

/** The error that ends a subscription whose place in the streams was trimmed away. */
export function cursorExpired(err: CursorExpiredError): AppError {
  const oldestCursor = entryIdText(err.oldest.id);
  return new AppError(
    ErrorCode.NOT_FOUND,
    `The ${err.domain} stream no longer holds every event after this cursor (streams keep about EVENT_STREAM_MAXLEN events). Resume after ${oldestCursor}, the oldest cursor still complete, accepting the loss, or resynchronise.`,
    { reason: 'CURSOR_EXPIRED', oldestCursor },
  );
}

export class DomainEventsService {
  /** Every domain's stream, in the order ties between them are broken. */
  private readonly specs: StreamSpec[];
  /** This instance's reader for live subscribers. */
  readonly feed: EventFeed;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    /** Default 100000 (EVENT_STREAM_MAXLEN); trimming is approximate (`MAXLEN ~`), which is much cheaper. */
    readonly maxLen: number,
    /** The registry id of this instance, each event's `source`. */
    readonly source: string,
    private readonly log: Logger,
  ) {
    this.specs = DOMAIN_ORDER.map((domain, rank) => ({ domain, rank, key: keys.eventStream(domain) }));
    this.feed = new EventFeed(redis, this.specs, log);
  }

  /** The stream key of a domain (`users`, `orders`, `instances`). */
  stream(domain: Domain): string {
    return this.keys.eventStream(domain);
  }

  /**
   * Events of the given types (every type when null or empty) as they are appended on any
   * instance; with `after`, first every event after that cursor that the streams still hold.
   * BAD_USER_INPUT for an unknown type, more than {@link MAX_EVENT_TYPES} types or a malformed
   * cursor; NOT_FOUND (reason CURSOR_EXPIRED) when the streams were trimmed past `after`. The
   * caller checks who may (admins).
   */
  async subscribe(types: readonly string[] | null | undefined, after: string | null | undefined): Promise<AsyncIterableIterator<SubscriptionMessage>> {
    const selected = checkTypes(types);
    const from = checkCursor(after);
    const domains = selected ? new Set(selected.map((t) => EVENT_DOMAINS[t])) : null;
    const specs = domains ? this.specs.filter((s) => domains.has(s.domain)) : this.specs;
    const typeSet = selected ? new Set<string>(selected) : null;
    const wanted = typeSet ? (e: StreamEntry) => typeSet.has(field(e.fields, 'type') ?? '') : () => true;
    try {
      return await EventSubscription.open(this.feed, this.redis, specs, wanted, from, this.log);
    } catch (err) {
      if (err instanceof CursorExpiredError) throw cursorExpired(err);
      throw err;
    }
  }

  /** Ends every subscription (shutdown). */
  stop(): void {
    this.feed.close();
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

/** The requested types, null for all; BAD_USER_INPUT for unknown ones or too many. */
function checkTypes(types: readonly string[] | null | undefined): DomainEventType[] | null {
  if (!types?.length) return null;
  if (types.length > MAX_EVENT_TYPES)
    throw badInput(`types holds at most ${MAX_EVENT_TYPES} event types`, { types: [`must hold at most ${MAX_EVENT_TYPES} event types`] });
  const unknown = types.find((t) => !Object.hasOwn(EVENT_DOMAINS, t));
  if (unknown !== undefined) {
    const shown = JSON.stringify(unknown.length > 64 ? `${unknown.slice(0, 64)}…` : unknown);
    throw badInput(`Unknown event type ${shown}; the types are ${DOMAIN_EVENT_TYPES.join(', ')}`, {
      types: [`must be one of ${DOMAIN_EVENT_TYPES.join(', ')}`],
    });
  }
  return types as DomainEventType[];
}

/** The position `after` names, null for none; BAD_USER_INPUT for anything but a cursor. */
function checkCursor(after: string | null | undefined): Position | null {
  if (after === null || after === undefined) return null;
  const pos = after.length <= CURSOR_MAX_LENGTH ? parseCursor(after) : null;
  if (!pos) throw badInput(`after must be a cursor: ${CURSOR_FORMAT}`, { after: [`must be ${CURSOR_FORMAT}`] });
  return pos;
}
