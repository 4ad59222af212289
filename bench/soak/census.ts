/** The keyspace by key family, sized with MEMORY USAGE; which families grow with traffic by design. */
import type Redis from 'ioredis';
import { PREFIX } from './gateway';

/** Key families by what they hold; `retained` ones grow with traffic by design and are accounted for. */
export const FAMILIES: Array<{ name: string; re: RegExp; retained: boolean }> = [
  { name: 'orders', re: /^order:\{catalog\}:/, retained: true },
  { name: 'order indexes', re: /^orders:\{catalog\}:/, retained: true },
  { name: 'idempotency keys', re: /^order-keys:\{catalog\}:/, retained: true },
  { name: 'domain event streams', re: /^events:/, retained: true },
  { name: 'job queue (BullMQ)', re: /^\{jobs\}:/, retained: true },
  { name: 'analytics minute buckets', re: /^an:\{an\}:min:/, retained: true },
  { name: 'visitor journeys', re: /^an:\{an\}:journey:/, retained: true },
  { name: 'analytics (other)', re: /^an:/, retained: false },
  { name: 'sessions', re: /^sess:/, retained: false },
  { name: 'users and session indexes', re: /^user(-email)?:/, retained: false },
  { name: 'carts', re: /^cart:/, retained: false },
  { name: 'catalog', re: /^cat:/, retained: false },
  { name: 'recommendations', re: /^rec:/, retained: false },
  { name: 'outbox', re: /^outbox:/, retained: false },
  { name: 'registry', re: /^registry:/, retained: false },
  { name: 'rate limits', re: /^rl(stats)?:/, retained: false },
];

export function familyOf(key: string): (typeof FAMILIES)[number] | { name: string; retained: false } {
  if (!key.startsWith(`${PREFIX}:`)) return { name: 'other (no prefix)', retained: false };
  const rest = key.slice(PREFIX.length + 1);
  return FAMILIES.find((f) => f.re.test(rest)) ?? { name: 'other', retained: false };
}

export interface KeyCensus {
  keys: number;
  byFamily: Record<string, { keys: number; bytes?: number }>;
  /** MEMORY USAGE summed over the retained families (every family with `all`). */
  retainedBytes: number;
}

/** Walks the keyspace; sizes the retained families (or all with `all`, for the start and end breakdown). */
export async function census(redis: Redis, all: boolean): Promise<KeyCensus> {
  const out: KeyCensus = { keys: 0, byFamily: {}, retainedBytes: 0 };
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    const sized = keys.filter((k) => all || familyOf(k).retained);
    const sizes = sized.length ? await redis.pipeline(sized.map((k) => ['memory', 'usage', k])).exec() : [];
    const sizeOf = new Map(sized.map((k, i) => [k, Number(sizes?.[i]?.[1] ?? 0)]));
    for (const k of keys) {
      const f = familyOf(k);
      const slot = (out.byFamily[f.name] ??= { keys: 0 });
      slot.keys++;
      out.keys++;
      const bytes = sizeOf.get(k);
      if (bytes !== undefined) {
        slot.bytes = (slot.bytes ?? 0) + bytes;
        if (f.retained) out.retainedBytes += bytes;
      }
    }
  } while (cursor !== '0');
  return out;
}
