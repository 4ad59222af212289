/**
 * Users: one hash per user, an email -> id index claimed with SET NX so two
 * registrations of one address cannot both win. Passwords are scrypt hashes.
 *
 * Records read by id go through the shared cache for up to {@link USER_CACHE_MS}; a change of
 * roles drops them on every instance before it returns (and, should that message be lost,
 * they are read again within the second).
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { hashPassword, newId, verifyPassword } from '../../util/crypto';
import { AppError, ErrorCode, badInput } from '../../util/errors';
import type { CacheSpace, SharedCache } from '../cache/shared-cache';

export type Role = 'CUSTOMER' | 'ADMIN';

/** Every role, in the order they are stored. */
export const ROLES: readonly Role[] = ['ADMIN', 'CUSTOMER'];

/** How long an instance may serve a user record it read without reading it again. */
export const USER_CACHE_MS = 800;

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  roles: Role[];
  createdAt: number;
}

/** Lower-cased, trimmed, NFKC: the form in which an address is stored and compared. */
export const normalizeEmail = (email: string): string => email.normalize('NFKC').trim().toLowerCase();

function toRecord(h: Record<string, string>): UserRecord | null {
  if (!h.id) return null;
  return { id: h.id, email: h.email, name: h.name, roles: (h.roles || 'CUSTOMER').split(',') as Role[], createdAt: Number(h.created) };
}

/** Accounts. `scryptN` is the scrypt cost for new hashes (config default 2^15, r = 8, p = 1). */
export class UserService {
  /** A hash of a random password, verified when the email is unknown so both failures take as long. */
  private dummyHash: Promise<string>;
  private readonly records: CacheSpace<UserRecord | null>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly scryptN: number,
    cache: SharedCache,
  ) {
    this.dummyHash = hashPassword(newId(), scryptN);
    this.records = cache.space<UserRecord | null>('user', { ttlMs: USER_CACHE_MS });
  }

  /** The user, through the shared cache (an unknown id is not cached). */
  findById(id: string): Promise<UserRecord | null> {
    return this.records.get(id, async () => toRecord(await this.redis.hgetall(this.keys.user(id))));
  }

  /**
   * Replaces the user's roles; false when there is no such user. Every instance drops its copy of
   * the record before this returns, so the next request anywhere acts with the new roles.
   */
  async setRoles(userId: string, roles: readonly Role[]): Promise<boolean> {
    const stored = ROLES.filter((r) => roles.includes(r));
    if (!stored.length) throw badInput('A user needs at least one role', { roles: ['must name at least one role'] });
    const set = await runScript<number>(this.redis, 'userSetRoles', [this.keys.user(userId)], [stored.join(',')]);
    if (!set) return false;
    await this.records.invalidate([userId]);
    return true;
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    const id = await this.idByEmail(email);
    return id ? this.findById(id) : null;
  }

  /** The id of the account of this address (normalised here), or null. One GET. */
  idByEmail(email: string): Promise<string | null> {
    return this.redis.get(this.keys.userEmail(normalizeEmail(email)));
  }

  /** Whether `password` is the user's; an unknown user is checked against the dummy hash, so it costs as much. */
  async checkPassword(userId: string, password: string): Promise<boolean> {
    const stored = await this.redis.hget(this.keys.user(userId), 'pw');
    const ok = await verifyPassword(password, stored || (await this.dummyHash));
    return ok && Boolean(stored);
  }

  /** Replaces the user's password hash (scrypt at the configured cost). */
  async setPassword(userId: string, password: string): Promise<void> {
    const pw = await hashPassword(password, this.scryptN);
    await this.redis.hset(this.keys.user(userId), 'pw', pw);
  }

  /** Creates a user; BAD_USER_INPUT when the address is taken. */
  async create(input: { email: string; password: string; name: string }, roles: Role[] = ['CUSTOMER']): Promise<UserRecord> {
    const email = normalizeEmail(input.email);
    const user: UserRecord = { id: newId(), email, name: input.name.trim(), roles, createdAt: Date.now() };
    const pw = await hashPassword(input.password, this.scryptN);
    await this.redis.hset(this.keys.user(user.id), { id: user.id, email, name: user.name, roles: roles.join(','), created: user.createdAt, pw });
    const claimed = await this.redis.set(this.keys.userEmail(email), user.id, 'NX');
    if (claimed !== 'OK') {
      await this.redis.del(this.keys.user(user.id));
      throw badInput('An account with this email already exists', { email: ['is already registered'] });
    }
    return user;
  }

  /** The user when email and password match, else null, in about the same time either way. */
  async verifyCredentials(email: string, password: string): Promise<UserRecord | null> {
    const id = await this.redis.get(this.keys.userEmail(normalizeEmail(email)));
    const h = id ? await this.redis.hgetall(this.keys.user(id)) : {};
    const ok = await verifyPassword(password, h.pw || (await this.dummyHash));
    return ok && h.pw ? toRecord(h) : null;
  }

  /** Ensures the configured admin exists; returns true when it was created. */
  async ensureAdmin(email: string, password: string): Promise<boolean> {
    if (await this.findByEmail(email)) return false;
    try {
      await this.create({ email, password, name: 'Administrator' }, ['ADMIN', 'CUSTOMER']);
      return true;
    } catch (err) {
      // Another instance starting at the same moment created it first.
      if (err instanceof AppError && err.code === ErrorCode.BAD_USER_INPUT) return false;
      throw err;
    }
  }
}
