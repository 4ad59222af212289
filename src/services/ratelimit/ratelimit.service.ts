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
 *
 * Operators change the limits at run time: an admin's override of a policy's values
 * (overrides.ts: kept in Redis, mirrored in memory on every instance, so reading it costs no
 * round trip) and an admin's block of a client (blocks.ts: checked inside the limiter script).
 */
import type { OperationDefinitionNode } from 'graphql';
import type { Config } from '../../config';
import type { RequestContext } from '../context';
import { AppError, ErrorCode, badInput, invalidInput, serviceUnavailable } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { Metrics } from '../../util/metrics';
import { isRedisUnavailable, type RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { buildCharges, keyOf, signInEmail, signInParts, type Charge, type ExtraPolicies, type Subject } from './charges';
import { BLOCK_SECONDS, MAX_BLOCKS, parseIdentity, RateLimitBlocks, type BlockEntry } from './blocks';
import { overrideProblems, PolicyOverrides, type PolicyValues } from './overrides';
import type { BlockCheck, StoreResult } from './store';
import { MemoryLimiter } from './memory';
import { RateLimitMetrics } from './metrics';
import type { RootField } from './root-field';
import {
  addressPolicy,
  apiKeyPolicy,
  DEFAULT_POLICY,
  defaultPolicy,
  intervalOf,
  policyHeader,
  retryAfterSeconds,
  signInPolicies,
  stateHeader,
  type PolicyState,
  type RatePolicy,
} from './policy';
import { MAX_BLOCKED_SHOWN as MAX_BLOCKS_SHOWN, RateLimitStats, type OverviewData } from './stats';
import { RedisLimiterStore, type SignInBooking } from './store';
import { normalizeEmail } from '../sessions/user.service';
import { isApiKey } from '../../util/crypto';

export const RATE_LIMIT_REJECTED_TOPIC = 'RATE_LIMIT_REJECTED';
/** Published when an admin blocks an identity: every instance drops (gives back) that identity's leases. */
export const RATE_LIMIT_BLOCKED_TOPIC = 'RATE_LIMIT_BLOCKED';
/** Refused for being on RATE_LIMIT_BLOCK. */
export const BLOCKLIST_POLICY = 'blocklist';
/** Refused for opening more subscriptions on one WebSocket than RATE_LIMIT_WS_SUBSCRIPTIONS. */
export const SUBSCRIPTION_CAP_POLICY = 'ws-subscriptions';
const BLOCKED_RETRY_SEC = 3600;
/** A charge's state when it was spent from a lease: made as the headers and rateLimitStatus read it. */
const leasedState = (c: Charge, remaining: number, resetMs: number): PolicyState => ({
  policy: c.policy,
  partition: c.partition,
  cost: c.cost,
  remaining,
  resetMs,
  retryMs: 0,
});

/** Callers whose plain requests' charges (about 1 KiB per cost) or anonymous subjects are kept, at most: past it, the table starts again. */
const CHARGES_KEPT = 4096;
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

/** A policy as operators see it: the values in force, and the configured ones they replace. */
export interface PolicyView extends PolicyValues {
  name: string;
  overridden: boolean;
  configured: PolicyValues;
}

export interface RequestInfo {
  cost: number;
  roots: readonly RootField[];
  /** The operation charged: its name (or root fields) labels a refusal. */
  operation: OperationDefinitionNode;
  transport: 'http' | 'ws';
}

/** A refused operation's label in rejection events: its name, else its root fields, else what it is. */
export function operationLabel(req: RequestInfo): string {
  return req.operation.name?.value ?? (req.roots.map((r) => r.name).join(',') || (req.transport === 'ws' ? 'subscription' : 'anonymous'));
}

export class RateLimitService {
  readonly policy: RatePolicy | null;
  /** What a request signed with an API key is charged instead of the default and per-address policies (null when off). */
  readonly keyPolicy: RatePolicy | null;
  /** The per-address ceiling, the sign-in failure budgets and the API key policy (null when off). */
  readonly extra: ExtraPolicies;
  readonly stats: RateLimitStats;
  /** Admins' overrides of policy values, in force on every instance. */
  readonly overrides: PolicyOverrides;
  /** Admins' blocks of clients. */
  readonly blocks: RateLimitBlocks;
  private readonly store: RedisLimiterStore;
  /** Every policy of the instance by name, as configured: default, address, sign-in budgets, then the schema's ({@link registerPolicies}). */
  private readonly known = new Map<string, RatePolicy>();
  private readonly memory = new MemoryLimiter();
  private readonly allow: ReadonlySet<string>;
  private readonly block: ReadonlySet<string>;
  /** Whether RATE_LIMIT_ALLOW or RATE_LIMIT_BLOCK lists anyone: most deployments list no one, and skip both checks. */
  private readonly listed: boolean;
  /** Sign-in attempts this request reserved a point for, per normalised email: a success gives it back. */
  private readonly reserved = new WeakMap<RequestContext, Map<string, number>>();
  private metrics: RateLimitMetrics | null = null;
  private timer: NodeJS.Timeout | null = null;
  private unlistenBlocks: (() => void) | null = null;
  /** Charges of plain requests by (identity, address) and cost, for one generation of the overrides (see chargesOf). */
  private kept = { generation: -1, charges: new Map<string, Map<number, Charge[]>>() };
  /** Anonymous callers' subjects by address (see anonymous). */
  private readonly callers = new Map<string, Subject>();
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
    this.store = new RedisLimiterStore(redis, undefined, config.rateLimits.lease, (err) =>
      log.debug(
        { err: (err as Error).message },
        'rate-limit lease not given back (its points refill within the window) or not refilled (its key goes to Redis once it runs dry)',
      ),
    );
    this.stats = new RateLimitStats(redis, keys);
    this.allow = new Set(config.rateLimits.allow);
    this.block = new Set(config.rateLimits.block);
    this.listed = this.allow.size > 0 || this.block.size > 0;
    this.overrides = new PolicyOverrides(redis, keys, pubsub, log, config.rateLimits.policyResyncMs);
    this.blocks = new RateLimitBlocks(redis, keys);
    const s = this.extra.signIn;
    this.registerPolicies([this.policy, this.extra.address, s?.pair ?? null, s?.ip ?? null, s?.email ?? null].filter((p): p is RatePolicy => p !== null));
  }

  /** Adds policies that requests may charge (the schema's @RateLimit ones, at server start); the first of a name wins. */
  registerPolicies(policies: readonly RatePolicy[]): void {
    if (!this.policy) return;
    for (const p of policies) if (!this.known.has(p.name)) this.known.set(p.name, p);
  }

  /** The policy with an admin's override applied (no I/O). */
  effective(p: RatePolicy): RatePolicy {
    return this.overrides.apply(p);
  }

  get enabled(): boolean {
    return this.policy !== null;
  }

  useMetrics(metrics: Metrics): void {
    this.metrics = new RateLimitMetrics(metrics.registry);
    this.metrics.leases(() => this.store.leases.counts);
  }

  /** Counts a password check that sign-in throttling let through (`login_password_checks_total`). */
  passwordChecked(match: boolean): void {
    this.metrics?.passwordChecked(match);
  }

  /** Starts the once-a-second statistics flush and the sweep of lapsed leases. */
  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
    if (this.policy) this.store.leases.start();
  }

  /**
   * Loads the admins' overrides and follows their changes, and their blocks, which drop this
   * instance's leases (gateways only: a worker charges nothing).
   */
  async followOverrides(): Promise<void> {
    if (!this.policy) return;
    if (this.store.leases.enabled && !this.unlistenBlocks) {
      try {
        this.unlistenBlocks = await this.pubsub.listen(RATE_LIMIT_BLOCKED_TOPIC, () => void this.store.leases.dropAll());
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'blocks not followed over pub/sub; a blocked client is refused once its leases lapse');
      }
    }
    await this.overrides.start();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.overrides.stop();
    this.unlistenBlocks?.();
    this.unlistenBlocks = null;
    await Promise.all([this.flush(), this.store.leases.stop().catch(() => undefined)]);
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
    if (!ctx.token) return this.anonymous(ctx);
    const ip = ctx.client.ip || 'unknown';
    let identity = `ip:${ip}`;
    try {
      if (isApiKey(ctx.token)) {
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

  /** A caller without a token: its address (one subject per address, kept beside the charges; never changed once made). */
  private anonymous(ctx: RequestContext): Subject {
    const ip = ctx.client.ip || 'unknown';
    let subject = this.callers.get(ip);
    if (!subject) {
      if (this.callers.size >= CHARGES_KEPT) this.callers.clear();
      this.callers.set(ip, (subject = Object.freeze({ identity: `ip:${ip}`, ip, id: `ip:${ip} ${ip}` })));
    }
    return subject;
  }

  /**
   * The charges of a request whose root fields name no policy and no sign-in (most requests) depend
   * on who asks and the cost alone: made once per (identity, address, cost) and kept until the
   * admins' overrides change, at most {@link CHARGES_KEPT} callers. Other requests' charges are made each time.
   */
  private chargesOf(subject: Subject, policy: RatePolicy, cost: number, roots: readonly RootField[], extra: ExtraPolicies): Charge[] {
    if (roots.some((r) => r.policies.length > 0 || r.signIn)) return buildCharges(this.keys, subject, policy, cost, roots, extra, this.overrides);
    if (this.kept.generation !== this.overrides.generation || this.kept.charges.size >= CHARGES_KEPT)
      this.kept = { generation: this.overrides.generation, charges: new Map() };
    const id = subject.id ?? `${subject.identity} ${subject.ip}`;
    let byCost = this.kept.charges.get(id);
    if (!byCost) this.kept.charges.set(id, (byCost = new Map<number, Charge[]>()));
    let charges = byCost.get(cost);
    if (!charges) byCost.set(cost, (charges = buildCharges(this.keys, subject, policy, cost, roots, extra, this.overrides)));
    return charges;
  }

  /** The budget a subject spends by cost, and the extra policies charged beside it (a key has no per-address ceiling). */
  private budgetOf(subject: Subject): { policy: RatePolicy; extra: ExtraPolicies } | null {
    if (subject.identity.startsWith('key:') && this.keyPolicy) return { policy: this.keyPolicy, extra: { ...this.extra, address: null } };
    return this.policy && { policy: this.policy, extra: this.extra };
  }

  /** True when a root field is a sign-in of the caller's own address (changePassword) and the sign-in budgets are on. */
  private signsInViewer(roots: readonly RootField[]): boolean {
    return this.extra.signIn !== null && roots.some((r) => r.signIn && 'viewer' in r.signIn);
  }

  /** The signed-in caller's address, for a request that {@link signsInViewer}; null without one. */
  private async ownEmail(ctx: RequestContext): Promise<string | null> {
    try {
      return (await ctx.user())?.email ?? null;
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      return null;
    }
  }

  /**
   * Charges the request; on refusal rejects with RATE_LIMITED (HTTP 429). Sets the
   * RateLimit-Policy / RateLimit (and Retry-After) headers on `ctx.headers` either way.
   * Undefined instead of a promise when the request was admitted at once: an anonymous caller
   * charged from this instance's leases (the common case of a busy client) waits for nothing, so
   * nothing is made to wait on.
   */
  enforce(ctx: RequestContext, req: RequestInfo): Promise<void> | undefined {
    if (!this.policy) return undefined;
    // No token, nothing to look up: the anonymous caller is known without waiting.
    if (!ctx.token) return this.enforceFor(ctx, req, this.anonymous(ctx));
    return this.subjectOf(ctx).then((subject) => this.enforceFor(ctx, req, subject));
  }

  private enforceFor(ctx: RequestContext, req: RequestInfo, subject: Subject): Promise<void> | undefined {
    if (this.listed) {
      if (this.allow.has(subject.identity) || this.allow.has(`ip:${subject.ip}`)) return undefined;
      if (this.block.has(subject.identity) || this.block.has(`ip:${subject.ip}`))
        return this.refuse(ctx, BLOCKLIST_POLICY, BLOCKED_RETRY_SEC, 'This client is blocked', req, subject);
    }
    const { policy, extra } = this.budgetOf(subject)!;
    // Most requests sign nobody in: they do not wait for a read of the user.
    if (this.signsInViewer(req.roots)) return this.ownEmail(ctx).then((ownEmail) => this.charge(ctx, req, { ...subject, ownEmail }, policy, extra));
    return this.charge(ctx, req, subject, policy, extra);
  }

  private charge(ctx: RequestContext, req: RequestInfo, subject: Subject, policy: RatePolicy, extra: ExtraPolicies): Promise<void> | undefined {
    const charges = this.chargesOf(subject, policy, req.cost, req.roots, extra);
    // Charged from this instance's leases when it can be, without waiting: the common case of a busy client.
    const leased = this.store.leases.take(charges, Date.now(), leasedState);
    if (leased) {
      // A lease that ran low is refilled behind this request, which does not wait for it.
      if (leased.refill) this.store.refill(charges, this.blocks.checks(subject.identity, subject.ip));
      this.admit(ctx, req, subject, leased.states);
      return undefined;
    }
    return this.decide(charges, this.blocks.checks(subject.identity, subject.ip)).then((d) => this.settle(ctx, req, subject, d));
  }

  /** Answers a decision from Redis (or the memory limiter): admitted, refused, or refused as blocked. */
  private settle(
    ctx: RequestContext,
    req: RequestInfo,
    subject: Subject,
    d: { allowed: boolean; blockedMs: number; states: PolicyState[] },
  ): Promise<void> | undefined {
    const { allowed, blockedMs, states } = d;
    if (blockedMs > 0) return this.refuse(ctx, BLOCKLIST_POLICY, Math.ceil(blockedMs / 1000), 'This client is blocked', req, subject);
    if (allowed) {
      this.admit(ctx, req, subject, states);
      return undefined;
    }
    this.budgetHeaders(ctx, states);
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
      operation: operationLabel(req),
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

  /** The RateLimit-Policy and RateLimit headers, and the default budget as this charge left it. */
  private budgetHeaders(ctx: RequestContext, states: readonly PolicyState[]): PolicyState | undefined {
    ctx.headers.set('RateLimit-Policy', policyHeader(states));
    ctx.headers.set('RateLimit', stateHeader(states));
    for (const s of states)
      if (s.policy.name === DEFAULT_POLICY) {
        ctx.budget = s;
        return s;
      }
    return undefined;
  }

  /** An admitted request: its headers, its sign-in reservations, and the counts. */
  private admit(ctx: RequestContext, req: RequestInfo, subject: Subject, states: readonly PolicyState[]): void {
    const def = this.budgetHeaders(ctx, states);
    this.reserve(ctx, req.roots, subject);
    if (this.metrics) for (const s of states) this.metrics.allowed(s.policy.name, s.cost);
    this.stats.spent(subject.identity, def?.cost ?? 0);
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
      const charges = buildCharges(this.keys, subject, policy, points, [], extra, this.overrides);
      const { allowed, blockedMs, states } = await this.decide(charges, this.blocks.checks(subject.identity, subject.ip));
      // Blocked: nothing charged; the document's answer is an error already.
      if (blockedMs > 0) return;
      this.budgetHeaders(ctx, states);
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
      ops.push({ key: keyOf(this.keys, s.ip, parts.ip), tag: parts.ip.tag, action: 'refund', interval: intervalOf(this.effective(s.ip)) });
      if (s.email)
        ops.push({
          key: keyOf(this.keys, s.email, parts.email),
          tag: parts.email.tag,
          action: 'refund-if-unknown',
          interval: intervalOf(this.effective(s.email)),
        });
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
    const s = ctx.budget;
    if (!s || !this.policy) return { limit: 2147483647, remaining: 2147483647, resetAt: new Date(), windowSeconds: 0, unlimited: true };
    return {
      limit: s.policy.burst,
      remaining: s.remaining,
      resetAt: new Date(Date.now() + s.resetMs),
      windowSeconds: Math.ceil(s.policy.windowMs / 1000),
      unlimited: false,
    };
  }

  /** Flushes this instance's counts, then reads every instance's, and the admins' blocks in force. */
  async overview(minutes: number, limit: number): Promise<OverviewData & { listed: string[]; blocks: BlockEntry[] }> {
    await this.flush();
    const [data, blocks] = await Promise.all([this.stats.read(minutes, limit), this.blocks.list(MAX_BLOCKS_SHOWN)]);
    return { ...data, listed: [...this.block], blocks };
  }

  /** Every policy of the instance with the values in force now (empty when rate limits are off). */
  policies(): PolicyView[] {
    return [...this.known.values()].map((p) => this.view(p));
  }

  /** Admin: puts `values` in force instead of the configured values of policy `name`, on every instance within a second. */
  async setPolicy(name: string, values: { points: number; windowSeconds: number; burst?: number | null }): Promise<PolicyView> {
    const base = this.knownPolicy(name);
    const v: PolicyValues = { points: values.points, windowSeconds: values.windowSeconds, burst: values.burst ?? values.points };
    const problems = overrideProblems(v);
    if (problems) throw invalidInput(problems);
    await this.overrides.set(name, v);
    return this.view(base);
  }

  /** Admin: the configured values of policy `name` are in force again, on every instance within a second. */
  async resetPolicy(name: string): Promise<PolicyView> {
    const base = this.knownPolicy(name);
    await this.overrides.reset(name);
    return this.view(base);
  }

  /**
   * Admin: refuses every request of `identity` (`user:<id>`, `ip:<address>`, `key:<id>`) for
   * `seconds` (1 s to 30 days), on every instance at once. Blocking again replaces the end.
   */
  async blockClient(identity: string, seconds: number): Promise<BlockEntry> {
    const id = this.identityOf(identity);
    if (!Number.isInteger(seconds) || seconds < BLOCK_SECONDS.min || seconds > BLOCK_SECONDS.max)
      throw invalidInput({ seconds: [`must be an integer from ${BLOCK_SECONDS.min} to ${BLOCK_SECONDS.max} (30 days)`] });
    if (this.allow.has(id)) throw badInput(`${id} is on RATE_LIMIT_ALLOW, which no block overrides`, { identity: ['is allow-listed'] });
    const entry = await this.blocks.block(id, seconds * 1000);
    if (!entry) throw badInput(`${MAX_BLOCKS} clients are blocked already; unblock some first`, { identity: [`more than ${MAX_BLOCKS} blocks`] });
    // Leased points are charged without reading block keys: every instance drops its leases now,
    // and a missed message is bounded by RATE_LIMIT_LEASE_TTL.
    await Promise.all([this.store.leases.dropAll(), this.pubsub.publishAsync(RATE_LIMIT_BLOCKED_TOPIC, { identity: id }).catch(() => undefined)]);
    return entry;
  }

  /** Admin: lifts a block; false when `identity` was not blocked (RATE_LIMIT_BLOCK entries are configuration, not blocks). */
  async unblockClient(identity: string): Promise<boolean> {
    return this.blocks.unblock(this.identityOf(identity));
  }

  private identityOf(raw: string): string {
    const id = parseIdentity(raw);
    if (!id) throw badInput('identity must be user:<id>, ip:<address> or key:<id>', { identity: ['must be user:<id>, ip:<address> or key:<id>'] });
    return id;
  }

  private knownPolicy(name: string): RatePolicy {
    const p = this.known.get(name);
    if (p) return p;
    const names = [...this.known.keys()];
    const why = names.length ? `must be one of ${names.join(', ')}` : 'names no policy: rate limits are off on this instance (RATE_LIMIT_DEFAULT=off)';
    throw badInput(`Unknown rate-limit policy: name ${why}`, { name: [why] });
  }

  private view(p: RatePolicy): PolicyView {
    const configured = { points: p.points, windowSeconds: Math.max(1, Math.ceil(p.windowMs / 1000)), burst: p.burst };
    const o = this.overrides.get(p.name);
    return { name: p.name, ...(o ?? configured), overridden: o !== undefined, configured };
  }

  private async decide(charges: Charge[], blocks: BlockCheck[]): Promise<{ allowed: boolean; blockedMs: number; states: PolicyState[] }> {
    let result;
    try {
      result = await this.store.charge(charges, blocks);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      if (charges.some((c) => c.policy.onRedisDown === 'closed')) {
        this.metrics?.storeDown('closed');
        throw serviceUnavailable();
      }
      this.metrics?.storeDown('memory');
      result = this.memory.charge(charges);
    }
    return this.decision(charges, result);
  }

  private decision(charges: Charge[], result: StoreResult): { allowed: boolean; blockedMs: number; states: PolicyState[] } {
    return {
      allowed: result.allowed,
      blockedMs: result.blockedMs,
      states: charges.map((c, i) => {
        const r = result.states[i];
        return { policy: c.policy, partition: c.partition, cost: c.cost, remaining: r.remaining, resetMs: r.resetMs, retryMs: r.retryMs };
      }),
    };
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
      operation: operationLabel(req),
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
