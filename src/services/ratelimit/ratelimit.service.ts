/**
 * Rate limiting: decides whether a request may run, before it runs, in one
 * Redis round trip for every policy that applies (see ratelimit/store.ts).
 *
 * Defaults: the default policy is RATE_LIMIT_DEFAULT (600/1m, burst equal to
 * its points, failing open); `off` turns every policy of the instance off.
 * Identity is the signed-in user, else the client IP; every request is also
 * charged to its client IP under the per-address ceiling (RATE_LIMIT_PER_ADDRESS,
 * default 4 x the default policy). A request signed with an API key is charged
 * as `key:<id>` under the key policy (RATE_LIMIT_API_KEY, default 6000/1m)
 * instead of both. Each `login` (and changePassword) reserves a point of the
 * sign-in failure budgets, given back by {@link RateLimitService.signedIn} on
 * success (LOGIN_FAILURES_PER_PAIR / _IP / _EMAIL). Allow-listed
 * identities are never limited, block-listed ones always refused (429 with a
 * one-hour Retry-After). While Redis is unreachable, a request with any
 * fail-closed policy (login, register) gets SERVICE_UNAVAILABLE and the rest
 * are limited by a per-instance memory limiter.
 */
import type { Config } from '../../config';
import type { RequestContext } from '../context';
import { AppError, ErrorCode, serviceUnavailable } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { Metrics } from '../../util/metrics';
import { isRedisUnavailable, type RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { buildCharges, keyOf, signInEmail, signInParts, type Charge, type ExtraPolicies, type Subject } from './charges';
import { MemoryLimiter } from './memory';
import { RateLimitMetrics } from './metrics';
import type { RootField } from './root-field';
import {
  addressPolicy,
  apiKeyPolicy,
  defaultPolicy,
  intervalOf,
  policyHeader,
  retryAfterSeconds,
  signInPolicies,
  stateHeader,
  type PolicyState,
  type RatePolicy,
} from './policy';
import { RateLimitStats, type OverviewData } from './stats';
import { RedisLimiterStore, type SignInBooking } from './store';
import { normalizeEmail } from '../sessions/user.service';
import { isApiKey } from '../../util/crypto';

export const RATE_LIMIT_REJECTED_TOPIC = 'RATE_LIMIT_REJECTED';
/** Refused for being on RATE_LIMIT_BLOCK. */
export const BLOCKLIST_POLICY = 'blocklist';
/** Refused for opening more subscriptions on one WebSocket than RATE_LIMIT_WS_SUBSCRIPTIONS. */
export const SUBSCRIPTION_CAP_POLICY = 'ws-subscriptions';
const BLOCKED_RETRY_SEC = 3600;
/** Rejection events published per second per instance, at most: a flood must not flood the dashboards too. */
const EVENTS_PER_SECOND = 200;

/** Bytes of a refused document that cost one default point: one point per started KiB (docs/rate-limits.md, "Refused documents"). */
export const REFUSED_BYTES_PER_POINT = 1024;
export const refusedDocumentPoints = (bytes: number): number => Math.max(1, Math.ceil(bytes / REFUSED_BYTES_PER_POINT));

export interface RejectionEvent {
  policy: string;
  identity: string;
  partition: string;
  operation: string;
  transport: 'http' | 'ws';
  cost: number;
  retryAfter: number;
  at: string;
}

export interface RateLimitStatusView {
  limit: number;
  remaining: number;
  resetAt: Date;
  windowSeconds: number;
  unlimited: boolean;
}

export interface RequestInfo {
  cost: number;
  roots: readonly RootField[];
  operation: string;
  transport: 'http' | 'ws';
}

export class RateLimitService {
  readonly policy: RatePolicy | null;
  /** What a request signed with an API key is charged instead of the default and per-address policies (null when off). */
  readonly keyPolicy: RatePolicy | null;
  /** The per-address ceiling, the sign-in failure budgets and the API key policy (null when off). */
  readonly extra: ExtraPolicies;
  readonly stats: RateLimitStats;
  private readonly store: RedisLimiterStore;
  private readonly memory = new MemoryLimiter();
  private readonly allow: ReadonlySet<string>;
  private readonly block: ReadonlySet<string>;
  private readonly defaults = new WeakMap<RequestContext, PolicyState>();
  /** Sign-in attempts this request reserved a point for, per normalised email: a success gives it back. */
  private readonly reserved = new WeakMap<RequestContext, Map<string, number>>();
  private metrics: RateLimitMetrics | null = null;
  private timer: NodeJS.Timeout | null = null;
  private events = { second: 0, count: 0 };

  constructor(
    redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    config: Config,
    private readonly log: Logger,
  ) {
    this.policy = defaultPolicy(config);
    this.keyPolicy = apiKeyPolicy(config);
    this.extra = { address: addressPolicy(config), signIn: signInPolicies(config), apiKey: this.keyPolicy };
    this.store = new RedisLimiterStore(redis);
    this.stats = new RateLimitStats(redis, keys);
    this.allow = new Set(config.rateLimits.allow);
    this.block = new Set(config.rateLimits.block);
  }

  get enabled(): boolean {
    return this.policy !== null;
  }

  useMetrics(metrics: Metrics): void {
    this.metrics = new RateLimitMetrics(metrics.registry);
  }

  /** Counts a password check that sign-in throttling let through (`login_password_checks_total`). */
  passwordChecked(match: boolean): void {
    this.metrics?.passwordChecked(match);
  }

  /** Starts the once-a-second statistics flush. */
  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  async flush(): Promise<void> {
    try {
      await this.stats.flush();
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'rate-limit statistics not written');
    }
  }

  /**
   * The caller's identity: `key:<id>` for a live API key, `user:<id>` for a signed-in user, else `ip:<addr>`.
   * A session or key that cannot be checked (Redis down) counts as anonymous.
   */
  async subjectOf(ctx: RequestContext): Promise<Subject> {
    const ip = ctx.client.ip || 'unknown';
    let identity = `ip:${ip}`;
    try {
      if (ctx.token && isApiKey(ctx.token)) {
        const key = await ctx.apiKey();
        if (key) identity = `key:${key.id}`;
      } else {
        const userId = (await ctx.session())?.userId;
        if (userId) identity = `user:${userId}`;
      }
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
    }
    return { identity, ip };
  }

  /** The budget a subject spends by cost, and the extra policies charged beside it (a key has no per-address ceiling). */
  private budgetOf(subject: Subject): { policy: RatePolicy; extra: ExtraPolicies } | null {
    if (subject.identity.startsWith('key:') && this.keyPolicy) return { policy: this.keyPolicy, extra: { ...this.extra, address: null } };
    return this.policy && { policy: this.policy, extra: this.extra };
  }

  /** The signed-in caller's address when a root field is a sign-in of it (changePassword); null otherwise. */
  private async ownEmail(ctx: RequestContext, roots: readonly RootField[]): Promise<string | null> {
    if (!this.extra.signIn || !roots.some((r) => r.signIn && 'viewer' in r.signIn)) return null;
    try {
      return (await ctx.user())?.email ?? null;
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      return null;
    }
  }

  /**
   * Charges the request; on refusal throws RATE_LIMITED (HTTP 429). Sets the
   * RateLimit-Policy / RateLimit (and Retry-After) headers on `ctx.headers` either way.
   */
  async enforce(ctx: RequestContext, req: RequestInfo): Promise<void> {
    if (!this.policy) return;
    const subject = await this.subjectOf(ctx);
    if (this.allow.has(subject.identity) || this.allow.has(`ip:${subject.ip}`)) return;
    if (this.block.has(subject.identity) || this.block.has(`ip:${subject.ip}`))
      return this.refuse(ctx, BLOCKLIST_POLICY, BLOCKED_RETRY_SEC, 'This client is blocked', req, subject);
    const { policy, extra } = this.budgetOf(subject)!;
    subject.ownEmail = await this.ownEmail(ctx, req.roots);
    const charges = buildCharges(this.keys, subject, policy, req.cost, req.roots, extra);
    const { allowed, states } = await this.decide(charges);
    ctx.headers.set('RateLimit-Policy', policyHeader(states));
    ctx.headers.set('RateLimit', stateHeader(states));
    const def = states.find((s) => s.policy === policy);
    if (def) this.defaults.set(ctx, def);
    if (allowed) {
      this.reserve(ctx, req.roots, subject);
      for (const s of states) this.metrics?.allowed(s.policy.name, s.cost);
      this.stats.spent(subject.identity, def?.cost ?? 0);
      return;
    }
    const refused = states.filter((s) => s.retryMs > 0);
    const retryAfter = retryAfterSeconds(refused);
    ctx.headers.set('Retry-After', String(retryAfter));
    const limiting = refused.reduce((a, b) => (b.retryMs > a.retryMs ? b : a));
    for (const s of refused) this.metrics?.refused(s.policy.name);
    const now = Date.now();
    this.stats.refused(
      subject.identity,
      refused.map((s) => ({ policy: s.policy.name, partition: s.partition, until: now + s.retryMs })),
      now,
    );
    this.publish({
      policy: limiting.policy.name,
      identity: subject.identity,
      partition: limiting.partition,
      operation: req.operation,
      transport: req.transport,
      cost: req.cost,
      retryAfter,
      at: new Date(now).toISOString(),
    });
    throw new AppError(ErrorCode.RATE_LIMITED, `Rate limit "${limiting.policy.name}" exceeded: retry in ${retryAfter} s`, {
      retryAfter,
      policy: limiting.policy.name,
    });
  }

  /**
   * Charges a document refused before execution (parse or validation error, a query limit, cost over
   * the ceiling, variables that do not fit) {@link refusedDocumentPoints} default points for its
   * `bytes`: the work spent refusing it grows with its size. Its answer is already an error: nothing
   * is thrown, and a refusal here only shows in the headers and metrics.
   */
  async chargeRejected(ctx: RequestContext, bytes: number): Promise<void> {
    if (!this.policy) return;
    const points = refusedDocumentPoints(bytes);
    try {
      const subject = await this.subjectOf(ctx);
      if (this.allow.has(subject.identity) || this.allow.has(`ip:${subject.ip}`)) return;
      const { policy, extra } = this.budgetOf(subject)!;
      const { allowed, states } = await this.decide(buildCharges(this.keys, subject, policy, points, [], extra));
      ctx.headers.set('RateLimit-Policy', policyHeader(states));
      ctx.headers.set('RateLimit', stateHeader(states));
      const def = states.find((s) => s.policy === policy);
      if (def) this.defaults.set(ctx, def);
      if (allowed) {
        this.metrics?.allowed(policy.name, points);
        this.stats.spent(subject.identity, points);
      } else this.metrics?.refused(policy.name);
    } catch (err) {
      ctx.log.debug({ err: (err as Error).message }, 'rate limit not charged for a failed request');
    }
  }

  /**
   * Books a successful sign-in (`login`, or `register`, which signs in) of `email` from the caller's
   * address: the points its attempt reserved come back (only failures stay counted; the address's
   * earlier failures stay), the (email, address) failure count starts again, and the address is
   * remembered as known for the email, which spares it the per-email ceiling. Nothing when the
   * sign-in budgets are off.
   */
  async signedIn(ctx: RequestContext, email: string): Promise<void> {
    const s = this.extra.signIn;
    if (!s) return;
    const normalized = normalizeEmail(email);
    const ip = ctx.client.ip || 'unknown';
    const parts = signInParts(normalized, ip);
    const ops: SignInBooking[] = [
      { key: this.keys.signInKnownAddresses(parts.email.tag), tag: parts.email.tag, action: 'remember', interval: 0 },
      { key: keyOf(this.keys, s.pair, parts.pair), tag: parts.pair.tag, action: 'reset', interval: 0 },
    ];
    if (this.takeReservation(ctx, normalized)) {
      ops.push({ key: keyOf(this.keys, s.ip, parts.ip), tag: parts.ip.tag, action: 'refund', interval: intervalOf(s.ip) });
      if (s.email) ops.push({ key: keyOf(this.keys, s.email, parts.email), tag: parts.email.tag, action: 'refund-if-unknown', interval: intervalOf(s.email) });
    }
    await this.store.bookSignIn(ops, parts.member, s.knownAddressTtlMs, s.knownAddresses);
  }

  /** Notes the sign-in attempts of an allowed request, so that their successes can give their points back. */
  private reserve(ctx: RequestContext, roots: readonly RootField[], subject: Subject): void {
    if (!this.extra.signIn) return;
    for (const r of roots) {
      const email = r.signIn ? signInEmail(r, subject.ownEmail) : null;
      if (email === null) continue;
      let m = this.reserved.get(ctx);
      if (!m) this.reserved.set(ctx, (m = new Map<string, number>()));
      m.set(email, (m.get(email) ?? 0) + 1);
    }
  }

  /** True (once per reserved attempt) when this request reserved a sign-in point for `email`. */
  private takeReservation(ctx: RequestContext, email: string): boolean {
    const m = this.reserved.get(ctx);
    const n = m?.get(email) ?? 0;
    if (!n) return false;
    m!.set(email, n - 1);
    return true;
  }

  /** The budget under the default policy as last seen by this request (without spending it). */
  status(ctx: RequestContext): RateLimitStatusView {
    const s = this.defaults.get(ctx);
    if (!s || !this.policy) return { limit: 2147483647, remaining: 2147483647, resetAt: new Date(), windowSeconds: 0, unlimited: true };
    return {
      limit: s.policy.burst,
      remaining: s.remaining,
      resetAt: new Date(Date.now() + s.resetMs),
      windowSeconds: Math.ceil(s.policy.windowMs / 1000),
      unlimited: false,
    };
  }

  /** Flushes this instance's counts, then reads every instance's. */
  async overview(minutes: number, limit: number): Promise<OverviewData & { listed: string[] }> {
    await this.flush();
    const data = await this.stats.read(minutes, limit);
    return { ...data, listed: [...this.block] };
  }

  private async decide(charges: Charge[]): Promise<{ allowed: boolean; states: PolicyState[] }> {
    let result;
    try {
      result = await this.store.charge(charges);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      if (charges.some((c) => c.policy.onRedisDown === 'closed')) {
        this.metrics?.storeDown('closed');
        throw serviceUnavailable();
      }
      this.metrics?.storeDown('memory');
      result = this.memory.charge(charges);
    }
    return { allowed: result.allowed, states: charges.map((c, i) => ({ policy: c.policy, partition: c.partition, cost: c.cost, ...result.states[i] })) };
  }

  /** Refuses outright (block list, subscription cap): counted, published and thrown like any refusal. */
  async refuse(ctx: RequestContext, policy: string, retryAfter: number, message: string, req: RequestInfo, subject?: Subject): Promise<never> {
    const who = subject ?? (await this.subjectOf(ctx));
    ctx.headers.set('Retry-After', String(retryAfter));
    this.metrics?.refused(policy);
    const now = Date.now();
    this.stats.refused(who.identity, [{ policy, partition: who.identity, until: now + retryAfter * 1000 }], now);
    this.publish({
      policy,
      identity: who.identity,
      partition: who.identity,
      operation: req.operation,
      transport: req.transport,
      cost: req.cost,
      retryAfter,
      at: new Date(now).toISOString(),
    });
    throw new AppError(ErrorCode.RATE_LIMITED, message, { retryAfter, policy });
  }

  private publish(event: RejectionEvent): void {
    const second = Math.floor(Date.now() / 1000);
    if (this.events.second !== second) this.events = { second, count: 0 };
    if (++this.events.count > EVENTS_PER_SECOND) {
      this.metrics?.eventDropped();
      return;
    }
    this.pubsub.publish(RATE_LIMIT_REJECTED_TOPIC, event);
  }
}
