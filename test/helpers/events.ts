/** Reading domain events off their Redis Streams, checked against the committed schema/events.schema.json. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { DomainEvent, OrderEventData } from '../../src/services/events/domain-events.service';
import { validate, type Schema } from './json-schema';

export const eventSchema = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schema', 'events.schema.json'), 'utf8')) as Schema;

export type Entry = [id: string, fields: string[]];
type ReadReply = Array<[stream: string, entries: Entry[]]> | null;

/** The `event` JSON of each entry, checked against the committed schema and the `type` field. */
export function events(entries: Entry[]): DomainEvent[] {
  return entries.map(([, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    const event = JSON.parse(f.event) as DomainEvent;
    expect(validate(eventSchema, event)).toEqual([]);
    expect(f.type).toBe(event.type);
    return event;
  });
}

/** New entries for `consumer` of `group` (XREADGROUP, waiting up to a second for some). */
export const readGroup = async (r: Redis, stream: string, group: string, consumer: string, count = 100): Promise<Entry[]> => {
  const reply = (await r.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', 1000, 'STREAMS', stream, '>')) as ReadReply;
  return reply?.[0]?.[1] ?? [];
};

/** An order event's data for order `o<n>`. */
export const orderData = (n: number, status: OrderEventData['status'] = 'PENDING'): OrderEventData => ({
  orderId: `o${n}`,
  userId: 'u1',
  status,
  items: [{ productId: 'p1', quantity: 2, unitPriceCents: 1250 }],
  totalCents: 2500,
  currency: 'EUR',
  reason: status === 'FAILED' ? 'payment declined' : null,
});

/** What the domainEvents subscription sends for one event. */
export interface DomainEventMsg {
  cursor: string;
  type: string;
  at: string;
  data: Record<string, any>;
}

export const DOMAIN_EVENTS = 'subscription D($types: [String!], $after: String) { domainEvents(types: $types, after: $after) { cursor type at data } }';

/** The streams in the order the subscription merges them (ties between equal ids broken by this order). */
export const STREAM_ORDER = ['users', 'orders', 'instances'] as const;

/** One entry of the merged streams, as XRANGE shows it. */
export interface MergedEntry {
  id: string;
  domain: (typeof STREAM_ORDER)[number];
  type: string;
}

const idParts = (id: string): [bigint, bigint] => {
  const [ms, seq] = id.split('-');
  return [BigInt(ms), BigInt(seq)];
};

/** Orders entries as the subscription does: by id, then by stream. */
export const compareMerged = (a: { id: string; domain: string }, b: { id: string; domain: string }): number => {
  const [am, as] = idParts(a.id);
  const [bm, bs] = idParts(b.id);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return STREAM_ORDER.indexOf(a.domain as MergedEntry['domain']) - STREAM_ORDER.indexOf(b.domain as MergedEntry['domain']);
};

/** Every entry of the three domain streams of `prefix` (XRANGE - +), merged in the subscription's order. */
export async function mergedStreams(r: Redis, prefix: string): Promise<MergedEntry[]> {
  const keys: Record<MergedEntry['domain'], string> = {
    users: `${prefix}:events:{users}`,
    orders: `${prefix}:events:{catalog}:orders`,
    instances: `${prefix}:events:{registry}:instances`,
  };
  const out: MergedEntry[] = [];
  for (const domain of STREAM_ORDER) {
    const entries = (await r.xrange(keys[domain], '-', '+')) as Entry[];
    for (const [id, fields] of entries) out.push({ id, domain, type: fields[fields.indexOf('type') + 1] });
  }
  return out.sort(compareMerged);
}

/** The entry id in a cursor (`<id>` or `<id>/<domain>`). */
export const cursorId = (cursor: string): string => cursor.split('/')[0];
