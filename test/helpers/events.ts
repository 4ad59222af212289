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
