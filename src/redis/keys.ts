/**
 * Every Redis key the service writes is built here, under the configured prefix.
 * Keys that a script or transaction touches together share a Cluster hash tag
 * (the `{...}` part), so they land in one slot.
 */
/** The dimensions of the daily rollups: page, referrer host, UTM source, UTM campaign, browser, device class. */
export type AnalyticsDim = 'page' | 'ref' | 'src' | 'cmp' | 'br' | 'dev';

export class Keys {
  constructor(readonly prefix: string) {}

  private k(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }

  // --- users: email index and user record are written together at register.
  user(userId: string): string {
    return this.k('user', `{u:${userId}}`);
  }
  /** email -> userId; its own slot, claimed with SET NX right after the user is written (a loser deletes its record). */
  userEmail(email: string): string {
    return this.k('user-email', email);
  }

  // --- sessions: one key per token hash (validated in one round trip), plus a
  // per-user index (zset by creation time + hash id -> token hash) under the user's tag.
  session(tokenHash: string): string {
    return this.k('sess', `{s:${tokenHash}}`);
  }
  userSessions(userId: string): string {
    return this.k('user', `{u:${userId}}`, 'sessions');
  }
  userSessionIds(userId: string): string {
    return this.k('user', `{u:${userId}}`, 'session-ids');
  }

  // --- password resets: one key per token hash (consumed with GETDEL, single use), plus the
  // user's index of live ones (zset token hash -> expiry ms) under the user's tag, which caps them.
  /** String: the user id the token resets; expires with the token. */
  passwordReset(tokenHash: string): string {
    return this.k('pwreset', `{r:${tokenHash}}`);
  }
  userPasswordResets(userId: string): string {
    return this.k('user', `{u:${userId}}`, 'pwresets');
  }

  // --- API keys: one hash per key hash (checked in one round trip, in its own slot), and the
  // list of keys (hash id -> key hash) in `{apikeys}`, whose script caps their number.
  apiKey(keyHash: string): string {
    return this.k('apikey', `{k:${keyHash}}`);
  }
  apiKeyIndex(): string {
    return this.k('apikeys', '{apikeys}', 'ids');
  }

  // --- commerce: products, stock, carts, orders, idempotency keys and recommendation
  // scores share the one `{catalog}` slot, because a checkout changes stock, the cart,
  // the order and the scores of any products in one atomic script (docs/commerce.md, "Redis keys and Cluster slots").
  catalog(part: 'products' | 'stock' | 'ids' | 'version' | 'cache' | 'bestsellers' | 'pending'): string {
    return this.k('cat', '{catalog}', part);
  }
  /** ownerId is `u:<userId>` or `g:<guestSessionId>`. */
  cart(ownerId: string): string {
    return this.k('cart', '{catalog}', ownerId);
  }
  /** With an empty id: the prefix scripts append an order id to. */
  order(orderId: string): string {
    return this.k('order', '{catalog}', orderId);
  }
  userOrders(userId: string): string {
    return this.k('orders', '{catalog}', userId);
  }
  /** The user's idempotency keys (sha256) -> order id. */
  userOrderKeys(userId: string): string {
    return this.k('order-keys', '{catalog}', userId);
  }
  /**
   * Every order by creation time (zset orderId -> created ms), or with a status, the orders in
   * that status now: the order scripts move an order between the status sets as it changes,
   * so admins' `orders(status)` reads one set. An empty status gives the prefix scripts append
   * a status to.
   */
  orderIndex(status?: string): string {
    return status === undefined ? this.k('orders-all', '{catalog}') : this.k('orders-all', '{catalog}', status);
  }
  /** Products bought together with productId, scored by orders; empty id gives the prefix. */
  boughtWith(productId: string): string {
    return this.k('rec', '{catalog}', productId);
  }

  // --- analytics and experiments: every key shares the one `{an}` slot, because one
  // page view updates counters, uniques, ranking, series, journey and the live flag in
  // one script, and a conversion updates its experiment's variant too (docs/analytics.md, "A/B experiments").
  /** Hash: views, conversions, revenue. */
  anTotals(): string {
    return this.k('an', '{an}', 'totals');
  }
  /** Zset page -> views: both the per-page count and the ranking. */
  anPages(): string {
    return this.k('an', '{an}', 'pages');
  }
  /** HyperLogLog of every visitor, or of one page's visitors. */
  anUniques(page?: string): string {
    return page === undefined ? this.k('an', '{an}', 'uv') : this.k('an', '{an}', 'uv', page);
  }
  /** Hash per minute (epoch minute): `*` views, page -> views, `!c` conversions, `!r` revenue. */
  anMinute(epochMinute: number): string {
    return this.k('an', '{an}', 'min', String(epochMinute));
  }
  /** Capped list of a visitor's latest pages, newest first. `visitorKey` is the keyed hash of the id, never the id a caller sent. */
  anJourney(visitorKey: string): string {
    return this.k('an', '{an}', 'journey', visitorKey);
  }
  /**
   * Hash experiment key -> variant number (`c` appended once converted, then the visitor's revenue in it so far, in cents):
   * a visitor's exposures; `visitorKey` as in {@link anJourney}.
   */
  anVisitorExps(visitorKey: string): string {
    return this.k('an', '{an}', 'vx', visitorKey);
  }
  /** Counter of the visitor keys one caller (`callerKey`: keyed hash of `user:<id>` or the address) created on one UTC day. */
  anBudget(epochDay: number, callerKey: string): string {
    return this.k('an', '{an}', 'budget', String(epochDay), callerKey);
  }
  /** Set once an order's revenue is counted, so a re-run of its processing counts nothing twice. */
  anOrder(orderId: string): string {
    return this.k('an', '{an}', 'order', orderId);
  }
  /** Hashes type -> count and type -> revenue cents. */
  anConversions(what: 'count' | 'revenue'): string {
    return this.k('an', '{an}', 'conv', what);
  }
  /** Set by every write, cleared by the instance that publishes liveStats. */
  anDirty(): string {
    return this.k('an', '{an}', 'dirty');
  }
  /** SET NX PX lock: at most one liveStats publication per period across instances. */
  anLiveLock(): string {
    return this.k('an', '{an}', 'live-lock');
  }
  /** Random salt of the anonymous visitor hash, created once per deployment. */
  anSalt(): string {
    return this.k('an', '{an}', 'salt');
  }
  /** Hash per hour (epoch hour): `*` human page views, `bots` bot page views. Kept ANALYTICS_HISTORY. */
  anHour(epochHour: number): string {
    return this.k('an', '{an}', 'hour', String(epochHour));
  }
  /**
   * Per UTC day (epoch day): `tot` hash (views, bots), `uv` HyperLogLog of the day's visitors,
   * `seq` hash short visitor hash -> the page ids it viewed that day, in order (funnels).
   */
  anDay(epochDay: number, part: 'tot' | 'uv' | 'seq'): string {
    return this.k('an', '{an}', 'day', String(epochDay), part);
  }
  /** Zset value -> views of one dimension on one UTC day. */
  anDayValues(epochDay: number, dim: AnalyticsDim): string {
    return this.k('an', '{an}', 'day', String(epochDay), 'v', dim);
  }
  /** HyperLogLog of one value's visitors on one UTC day; `valueHash` is a digest of the value, never the value. */
  anDayUniques(epochDay: number, dim: AnalyticsDim, valueHash: string): string {
    return this.k('an', '{an}', 'day', String(epochDay), 'uv', dim, valueHash);
  }
  /** Hash page -> a small id (field `#`: the last id given), so funnel sequences hold ids, not paths. */
  anPageIds(): string {
    return this.k('an', '{an}', 'page-ids');
  }
  /** A scratch key a read creates and deletes inside one MULTI (`id` random). */
  anScratch(id: string): string {
    return this.k('an', '{an}', 'scratch', id);
  }
  /** Zset experiment key -> creation time. */
  experiments(): string {
    return this.k('an', '{an}', 'exps');
  }
  /**
   * def: hash of the definition; stats: `<variant>:<counter>` -> n. assign (visitor -> variant) and
   * converted (set of visitors) are what earlier releases wrote: read, never grown (docs/analytics.md, "What one caller can store").
   */
  experiment(key: string, part: 'def' | 'assign' | 'converted' | 'stats'): string {
    return this.k('an', '{an}', 'exp', key, part);
  }
  /** What a script appends `<experiment key>:def` or `:stats` to, for experiments it finds in a visitor's exposures. */
  experimentPrefix(): string {
    return `${this.k('an', '{an}', 'exp')}:`;
  }

  // --- feature flags: the definitions and the version counter share `{flags}`, because setFlag
  // and deleteFlag change both in one script.
  /** Hash flag key -> JSON definition (key, enabled, rolloutPercent, version, updatedAt). */
  flags(): string {
    return this.k('flags', '{flags}', 'defs');
  }
  /** Counter: the version of the latest flag change, stamped on that change's definition and message. */
  flagsVersion(): string {
    return this.k('flags', '{flags}', 'version');
  }

  // --- the shared cache's second level (services/cache/result-cache.ts): entries, the tags'
  // member lists and their generations share `{cache}`, because one script invalidates a tag's
  // entries and another writes an entry only while its tags' generations are unchanged.
  /**
   * String: one cached result (JSON), expiring with its lifetime. `hash` is the SHA-256 hex of
   * what identifies it (a field and its arguments): no request value is ever part of the key.
   * `space` is a name from code (`field`), never `tag` or `gen`.
   */
  cacheEntry(space: string, hash: string): string {
    if (space === 'tag' || space === 'gen' || !/^[a-z][a-z0-9-]{0,31}$/.test(space)) throw new Error(`not a cache space: ${space}`);
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error('a cache entry is named by a SHA-256 hex digest');
    return this.k('cache', '{cache}', space, hash);
  }
  /** Zset entry key -> its expiry (ms): the entries holding a tag (a tag is a name from code, e.g. `recommendations`). */
  cacheTag(tag: string): string {
    return this.k('cache', '{cache}', 'tag', tag);
  }
  /** Hash tag -> generation, moved on by every invalidation of the tag; no lifetime, one field per tag ever invalidated. */
  cacheGenerations(): string {
    return this.k('cache', '{cache}', 'gen');
  }

  // --- jobs: BullMQ builds the queue's keys itself as `<prefix>:{jobs}:<part>`; the braces
  // in the queue name keep them in one Cluster slot, which its scripts need (docs/jobs.md, "Redis keys").
  /** The BullMQ queue name; BullMQ's key prefix is {@link prefix}. */
  readonly jobQueue = '{jobs}';
  /**
   * An owner's job quota (`u:<userId>`): `jobs` hashes the ids of its WAITING and DELAYED jobs to
   * `<bytes>:<reservedAtMs>`, `bytes` is their sum. In BullMQ's `{jobs}` slot: the quota scripts
   * read the job keys. (`quota` cannot be a job's key: job ids hold no `:`.)
   */
  jobQuota(owner: string, part: 'jobs' | 'bytes'): string {
    return this.k(this.jobQueue, 'quota', owner, part);
  }
  /**
   * An owner's jobs (`u:<userId>`), newest first (`myJobs`): zset job id -> enqueue time (µs),
   * written with the quota reservation, trimmed to the newest few hundred and expiring a while
   * after the owner's last enqueue (see job-quota.ts). (`owned` cannot be a job's key: job ids hold no `:`.)
   */
  jobsOwned(owner: string): string {
    return this.k(this.jobQueue, 'owned', owner);
  }
  /** Set of owners holding quota reservations, walked by the workers' recovery sweep. */
  jobQuotaOwners(): string {
    return this.k(this.jobQueue, 'quota-owners');
  }
  /** The mail outbox (capped list, newest first) and its per-job delivery markers share `{outbox}`. */
  outbox(): string {
    return this.k('outbox', '{outbox}', 'list');
  }
  /** Set once a job's message is in the outbox, so a re-run never adds a second copy. */
  outboxSent(jobId: string): string {
    return this.k('outbox', '{outbox}', 'sent', jobId);
  }
  /**
   * A secret an email.send job carries by reference (a password reset token), encrypted with a key that only
   * the job's data holds; deleted once the message is delivered, else it expires. `ref` is random hex.
   */
  mailSecret(ref: string): string {
    return this.k('outbox', '{outbox}', 'secret', ref);
  }

  // --- rate limits: one GCRA key per (policy, partition), tagged by the partition
  // (`u:<id>`, `ip:<addr>`, `e:<hash>`) so one request's keys of one identity share a slot.
  rateLimit(tag: string, policy: string): string {
    // Built on every request: one template rather than k()'s join (the same key).
    return `${this.prefix}:rl:{${tag}}:${policy}`;
  }
  /**
   * A sign-in email's known addresses (zset: address digest -> expiry ms), under the email's tag
   * (`e:<digest>`) so that the login charge can read it beside the per-email key. `:` cannot be in
   * a policy name, so no policy key can collide with it.
   */
  signInKnownAddresses(emailTag: string): string {
    return this.k('rl', `{${emailTag}}`, 'known:addresses');
  }
  /**
   * An identity's block by an admin (`blockClient`): a string holding the end (ms) that expires with
   * the block, under the identity's own tag (`user:<id>`, `ip:<addr>`, `key:<id>`) so that the
   * limiter script reads it beside that identity's budgets. `:` cannot be in a policy name, so no
   * policy key can collide with it.
   */
  rateLimitBlock(identity: string): string {
    return this.k('rl', `{${identity}}`, 'block:until');
  }
  /**
   * Operator settings of the rate limits, in one low-traffic slot: `overrides` (hash: policy name ->
   * JSON of the values in force instead of the configured ones) and `blocks` (zset: identity ->
   * end of its block, ms), the list of the per-identity block keys for the operator views.
   */
  rateLimitSettings(part: 'overrides' | 'blocks'): string {
    return this.k('rlconf', '{rl}', part);
  }
  /** Operator statistics: low-traffic (one flush a second per instance), all under one tag so MULTI can union them. */
  rateLimitStats(...parts: string[]): string {
    return this.k('rlstats', '{rl}', ...parts);
  }

  // --- service registry: a heartbeat updates the liveness zset and the info hash in
  // one script, and the listing prunes both, so they share the `{registry}` slot.
  /** Zset instance id -> expiry (ms, Redis clock) and hash instance id -> JSON record. */
  registry(part: 'alive' | 'info'): string {
    return this.k('registry', '{registry}', part);
  }

  // --- domain events: one stream per domain (`users`, `orders`, `instances`). The orders stream is
  // in the `{catalog}` slot because the checkout and orderAdvance scripts append to it, the
  // instances stream in `{registry}` because the registry scripts do; others have their own.
  eventStream(domain: string): string {
    if (domain === 'orders') return this.k('events', '{catalog}', 'orders');
    if (domain === 'instances') return this.k('events', '{registry}', 'instances');
    return this.k('events', `{${domain}}`);
  }

  /** The audit log: a stream of admin actions, trimmed to about AUDIT_LOG_MAXLEN entries. */
  auditLog(): string {
    return this.k('audit', '{audit}');
  }

  /** Pub/sub channel names (not keys, but prefixed so instances of one deployment share them). */
  channel(name: string): string {
    return this.k('ch', name);
  }

  /** Any other namespaced key; used by services of later capabilities. */
  custom(...parts: string[]): string {
    return this.k(...parts);
  }
}
