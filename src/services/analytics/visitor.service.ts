/**
 * Who a tracked event is about. For page views an explicit id from the web app
 * wins; then the signed-in user (`user:<id>`), then the session (`session:<id>`),
 * then an anonymous id: a keyed hash of the client IP and user agent (`anon:<hash>`).
 * What decides an experiment variant, a conversion's attribution or a feature flag
 * follows a stricter rule ({@link VisitorService.viewerFor}): there the session wins.
 * The key is a random salt made once per deployment and kept in Redis, so the
 * id is stable across instances and restarts but cannot be reversed to an IP
 * by hashing the address space. The same salt keys the hashes that stand for
 * visitor ids in Redis keys and the point that picks a visitor's experiment variant.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { RequestContext } from '../context';
import { badInput } from '../../util/errors';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { ClientInfo } from '../sessions/session.service';

/** Prefixes of the identities {@link VisitorService.viewerFor} gives: not for callers to send. */
const RESERVED = /^(user|session|anon):/;

export class VisitorService {
  private salt?: Promise<string>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** The visitor id for this request; costs a session look-up only when no id is given and a token is present. */
  async visitorFor(ctx: RequestContext, explicit?: string | null): Promise<string> {
    if (explicit) return explicit;
    if (ctx.token) {
      const session = await ctx.session();
      if (session) return session.userId ? `user:${session.userId}` : `session:${session.id}`;
    }
    return `anon:${await this.anonymousId(ctx.client)}`;
  }

  /**
   * Who an experiment assignment, a conversion's attribution and a feature flag are decided for.
   * A caller with a session is its session: the signed-in user (`user:<id>`), else the guest
   * session (`session:<id>`), whatever visitor id it sends, so nobody holding a session can pick
   * a variant or a flag by trying ids. A visitor id counts only from callers without a session
   * (a web app's own cookie id for anonymous visitors) and from admins (a server reporting for its
   * visitors); from anyone else but an admin it may not start with `user:`, `session:` or `anon:`,
   * the identities this function hands out (BAD_USER_INPUT), so an anonymous caller cannot act
   * as a signed-in user. Without either, the anonymous hash of IP and user agent. Costs the session
   * check when a token is sent, and the user read only when a signed-in caller also sends an id.
   */
  async viewerFor(ctx: RequestContext, explicit?: string | null): Promise<string> {
    const session = ctx.token ? await ctx.session() : null;
    const admin = Boolean(explicit && session?.userId && (await ctx.user())?.roles.includes('ADMIN'));
    if (explicit && admin) return explicit;
    if (session) return session.userId ? `user:${session.userId}` : `session:${session.id}`;
    if (!explicit) return `anon:${await this.anonymousId(ctx.client)}`;
    if (RESERVED.test(explicit)) throw badInput('visitorId may not start with user:, session: or anon:', { visitorId: ['uses a reserved prefix'] });
    return explicit;
  }

  /** 128 bits of HMAC-SHA256(salt, ip + "\n" + user agent), base64url. */
  async anonymousId(client: ClientInfo): Promise<string> {
    return (await this.mac(`${client.ip ?? ''}\n${client.userAgent ?? ''}`)).toString('base64url').slice(0, 22);
  }

  /**
   * What a Redis key carries in place of a visitor id (which the caller may have chosen):
   * 128 bits of HMAC-SHA256(salt, "visitor\n" + id), base64url. Admins look visitors up by id
   * through the same function.
   */
  async visitorKey(visitorId: string): Promise<string> {
    return (await this.mac(`visitor\n${visitorId}`)).toString('base64url').slice(0, 22);
  }

  /** The same for a caller identity (`user:<id>`, `ip:<address>`) whose budget a key counts. */
  async callerKey(identity: string): Promise<string> {
    return (await this.mac(`caller\n${identity}`)).toString('base64url').slice(0, 22);
  }

  /**
   * A uniform 32-bit point for (experiment, visitor) that picks the variant against the weights.
   * Keyed, so nobody without the salt can choose visitor ids that land in the variant they want.
   */
  async variantPoint(experiment: string, visitorId: string): Promise<number> {
    return (await this.mac(`variant\n${experiment}\n${visitorId}`)).readUInt32BE(0);
  }

  /**
   * A uniform 32-bit point for (feature flag, viewer): the viewer gets the flag when it falls in the
   * first `rolloutPercent` of the range, so raising the rollout only ever adds viewers.
   */
  async flagPoint(flag: string, viewer: string): Promise<number> {
    return (await this.mac(`flag\n${flag}\n${viewer}`)).readUInt32BE(0);
  }

  /** Loads the salt now, so that later hashing never waits for Redis (feature flags are answered from memory). */
  async warm(): Promise<void> {
    await this.loadSalt();
  }

  /** Domain-separated inputs (each starts with its own word and a newline; an IP has neither). */
  private async mac(data: string): Promise<Buffer> {
    return createHmac('sha256', await this.loadSalt())
      .update(data)
      .digest();
  }

  private loadSalt(): Promise<string> {
    this.salt ??= (async () => {
      const key = this.keys.anSalt();
      // MULTI keeps "create unless present, then read" to one atomic round trip.
      const res = await this.redis.multi().set(key, randomBytes(32).toString('base64url'), 'NX').get(key).exec();
      const value = res?.[1]?.[1];
      if (typeof value !== 'string') throw new Error('could not load the visitor salt');
      return value;
    })().catch((err: unknown) => {
      this.salt = undefined;
      throw err;
    });
    return this.salt;
  }
}
