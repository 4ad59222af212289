/**
 * Admins' blocks of clients (`blockClient`, `unblockClient`). A block is one key under the blocked
 * identity's own hash tag, holding its end and expiring with it: the limiter script reads it beside
 * that identity's budgets, so a block is in force on every instance at once and costs no round
 * trip. An index (one sorted set: identity -> end) lists the blocks for the operator views; it is
 * written before the block key and cleared after it, so it may list a block that a failure left
 * unwritten, never miss one that is in force. At most {@link MAX_BLOCKS} at once.
 */
import { isIP } from 'node:net';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import type { BlockCheck } from './store';

/** Blocks in force at once, over every instance. */
export const MAX_BLOCKS = 10_000;
/** A block lasts 1 s to 30 days. */
export const BLOCK_SECONDS = { min: 1, max: 2_592_000 } as const;

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** `ip:` the way the gateway writes client addresses: IPv4-mapped IPv6 as IPv4, IPv6 compressed in lower case. */
function canonicalIp(raw: string): string | null {
  const ip = /^::ffff:/i.test(raw) && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
  const kind = isIP(ip);
  if (kind === 4) return ip;
  if (kind !== 6) return null;
  try {
    // The WHATWG serialiser compresses as RFC 5952 does, which is how sockets report addresses.
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * An identity as the rate limits count callers (`user:<id>`, `ip:<address>`, `key:<id>`), written
 * the way the gateway writes it; null when `raw` is not one. Ids hold letters, digits, `_` and `-`
 * (1 to 64), so no caller text shapes a key beyond them.
 */
export function parseIdentity(raw: string): string | null {
  const m = /^(user|ip|key):(.{1,64})$/.exec(raw);
  if (!m) return null;
  if (m[1] !== 'ip') return ID.test(m[2]) ? raw : null;
  const ip = canonicalIp(m[2]);
  return ip === null ? null : `ip:${ip}`;
}

export interface BlockEntry {
  identity: string;
  /** ms since the epoch. */
  until: number;
}

export class RateLimitBlocks {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** The block keys the limiter script checks for a caller: its identity's and its address's. */
  checks(identity: string, ip: string): BlockCheck[] {
    const own = { key: this.keys.rateLimitBlock(identity), tag: identity };
    const address = `ip:${ip}`;
    return identity === address ? [own] : [own, { key: this.keys.rateLimitBlock(address), tag: address }];
  }

  /** Blocks a (valid, canonical) identity for `ms`; null when {@link MAX_BLOCKS} other blocks are in force. */
  async block(identity: string, ms: number): Promise<BlockEntry | null> {
    const [listed, ends] = await runScript<[number, number]>(
      this.redis,
      'rateLimitBlockList',
      [this.keys.rateLimitSettings('blocks')],
      [identity, ms, MAX_BLOCKS],
    );
    if (listed !== 1) return null;
    await this.redis.set(this.keys.rateLimitBlock(identity), String(ends), 'PX', ms);
    return { identity, until: ends };
  }

  /** Lifts a block; true when one was in force. */
  async unblock(identity: string): Promise<boolean> {
    const removed = await this.redis.del(this.keys.rateLimitBlock(identity));
    await this.redis.zrem(this.keys.rateLimitSettings('blocks'), identity);
    return removed === 1;
  }

  /** The blocks in force, soonest end first, at most `limit`. */
  async list(limit: number): Promise<BlockEntry[]> {
    const flat = await this.redis.zrangebyscore(this.keys.rateLimitSettings('blocks'), Date.now(), '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
    const out: BlockEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ identity: flat[i], until: Number(flat[i + 1]) });
    return out;
  }
}
