/**
 * API keys: credentials for other services and scripts, made by admins. A key is `gwk_` and 256
 * random bits (base64url), shown once; Redis keeps only its SHA-256, as the name of a hash holding
 * the key's id, name, roles, creation and last-use times. A request signed with a key acts with the
 * key's roles (see RequestContext.actor), on HTTP and WebSocket alike.
 *
 * - Checking a key is one script (`apiKeyTouch`), which also records its last use: at most once per
 *   {@link LAST_USED_GRANULARITY_MS}, inside the round trip the check costs anyway.
 * - At most API_KEYS_MAX (default 100) keys exist; the list (`{apikeys}`) is capped by a script.
 * - A revoked key's hash is deleted first, so the next request anywhere is refused, and every
 *   instance is told to close the key's WebSockets (4401).
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { runScript } from '../../redis/scripts';
import { newApiKey, newId, sha256 } from '../../util/crypto';
import { invalidInput, quotaExceeded } from '../../util/errors';
import type { Role } from './user.service';

export const API_KEY_REVOKED_TOPIC = 'apikey.revoked';
/** `lastUsedAt` is written at most this often per key: a key in steady use costs one write a minute. */
export const LAST_USED_GRANULARITY_MS = 60_000;
/** Longest key name. */
export const API_KEY_NAME_MAX = 64;
const ROLES: readonly Role[] = ['CUSTOMER', 'ADMIN'];
/** Key ids are made here: 32 hex digits. Anything else names no key (and never reaches a key name). */
const KEY_ID = /^[0-9a-f]{32}$/;
/** `gwk_` + 43 base64url characters. */
const KEY_SHAPE = /^gwk_[A-Za-z0-9_-]{43}$/;
// Letters and digits of any script, space, and . _ - (no control, format or separator characters).
const NAME = /^[\p{L}\p{N}](?:[\p{L}\p{N} ._-]*[\p{L}\p{N}._-])?$/u;

export interface ApiKeyRecord {
  id: string;
  name: string;
  roles: Role[];
  createdAt: number;
  /** When a request last used it, to {@link LAST_USED_GRANULARITY_MS}; null when never. */
  lastUsedAt: number | null;
  /** SHA-256 of the key: the name of its Redis hash. */
  keyHash: string;
}

export interface ApiKeyRevokedEvent {
  keyIds: string[];
}

function toRecord(keyHash: string, f: Record<string, string>): ApiKeyRecord | null {
  if (!f.id) return null;
  return {
    id: f.id,
    name: f.name ?? '',
    roles: (f.roles || '').split(',').filter((r): r is Role => (ROLES as string[]).includes(r)),
    createdAt: Number(f.created),
    lastUsedAt: f.used ? Number(f.used) : null,
    keyHash,
  };
}

const flatToObject = (flat: string[]): Record<string, string> => {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
  return f;
};

/** What is wrong with a key's name and roles, by field; null when nothing. */
export function apiKeyInputProblems(name: string, roles: readonly string[]): Record<string, string[]> | null {
  const problems: Record<string, string[]> = {};
  const n = name.normalize('NFC');
  if (n !== n.trim() || !n) problems.name = ['must not be empty or start or end with a space'];
  else if ([...n].length > API_KEY_NAME_MAX) problems.name = [`must be at most ${API_KEY_NAME_MAX} characters long`];
  else if (!NAME.test(n)) problems.name = ['may hold letters, digits, spaces, ".", "_" and "-" only'];
  if (!roles.length) problems.roles = ['must name at least one role'];
  else if (roles.some((r) => !(ROLES as readonly string[]).includes(r))) problems.roles = [`must be among ${ROLES.join(', ')}`];
  return Object.keys(problems).length ? problems : null;
}

export class ApiKeyService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    /** API_KEYS_MAX. */
    private readonly max: number,
  ) {}

  /** Makes a key; the raw key is in the answer and nowhere else. BAD_USER_INPUT for a bad name or roles, QUOTA_EXCEEDED past API_KEYS_MAX. */
  async create(name: string, roles: readonly Role[]): Promise<{ key: string; record: ApiKeyRecord }> {
    const problems = apiKeyInputProblems(name, roles);
    if (problems) throw invalidInput(problems);
    const key = newApiKey();
    const record: ApiKeyRecord = {
      id: newId(),
      name: name.normalize('NFC'),
      roles: ROLES.filter((r) => roles.includes(r)),
      createdAt: Date.now(),
      lastUsedAt: null,
      keyHash: sha256(key),
    };
    // Written before it is listed: a revocation finds a key only once it is listed, so it can never
    // delete a key's hash before the hash exists (which would leave a working key nobody can see).
    await this.redis.hset(this.keys.apiKey(record.keyHash), { id: record.id, name: record.name, roles: record.roles.join(','), created: record.createdAt });
    const listed = await runScript<number>(this.redis, 'apiKeyAdd', [this.keys.apiKeyIndex()], [record.id, record.keyHash, this.max]);
    if (listed !== 1) {
      await this.redis.del(this.keys.apiKey(record.keyHash));
      throw quotaExceeded(`At most ${this.max} API keys may exist; revoke one first`, { quota: 'apiKeys', limit: this.max, used: this.max, requested: 1 });
    }
    return { key, record };
  }

  /** The key a raw key names, recording its use; null when it is not a live key. One round trip. */
  async check(key: string): Promise<ApiKeyRecord | null> {
    if (!KEY_SHAPE.test(key)) return null;
    const keyHash = sha256(key);
    const flat = await runScript<string[]>(this.redis, 'apiKeyTouch', [this.keys.apiKey(keyHash)], [LAST_USED_GRANULARITY_MS]);
    return flat.length ? toRecord(keyHash, flatToObject(flat)) : null;
  }

  /** Whether the key still exists, without recording a use. */
  async isLive(record: ApiKeyRecord): Promise<boolean> {
    return (await this.redis.exists(this.keys.apiKey(record.keyHash))) === 1;
  }

  /** Every key, newest first (at most API_KEYS_MAX). */
  async list(): Promise<ApiKeyRecord[]> {
    const index = await this.redis.hgetall(this.keys.apiKeyIndex());
    const entries = Object.entries(index);
    // One command per key: each lives in its own Cluster slot.
    const rows = await Promise.all(entries.map(([, h]) => this.redis.hgetall(this.keys.apiKey(h))));
    const out: ApiKeyRecord[] = [];
    const stale: string[] = [];
    entries.forEach(([id, h], i) => {
      const r = toRecord(h, rows[i]);
      if (r && r.id === id) out.push(r);
      else stale.push(id);
    });
    // A revocation stopped between deleting the key and unlisting it.
    if (stale.length) await this.redis.hdel(this.keys.apiKeyIndex(), ...stale);
    return out.sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Revokes a key everywhere: false when there is no such key (or another call revoked it first). */
  async revoke(id: string): Promise<boolean> {
    if (!KEY_ID.test(id)) return false;
    const keyHash = await this.redis.hget(this.keys.apiKeyIndex(), id);
    if (!keyHash) return false;
    // The key's hash first: from here on no instance accepts it. Then the list.
    await this.redis.del(this.keys.apiKey(keyHash));
    const unlisted = await this.redis.hdel(this.keys.apiKeyIndex(), id);
    const event: ApiKeyRevokedEvent = { keyIds: [id] };
    await this.pubsub.publishAsync(API_KEY_REVOKED_TOPIC, event);
    return unlisted === 1;
  }
}
