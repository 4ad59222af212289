/**
 * Soak: a mixed workload at a fixed rate for a long time, then a report on
 * latency, errors, live events and memory growth.
 *
 * The load is open-loop: operations are started on a fixed schedule whether or
 * not earlier ones have finished, and each one's latency counts from the moment
 * it was due, so a slow gateway shows as latency instead of as a slower
 * schedule. The gateway (NODE_ENV=production, WORKER=1 so orders are processed,
 * rate limits off so the system is measured rather than the limiter) runs in its
 * own process on a private redis-server (AOF on); the load generator and the
 * WebSocket subscribers run here.
 *
 *   npm run soak                                   # 10 minutes at 100 operations/s, 50 subscribers
 *   npm run soak -- --seconds 60 --rate 200 --subscribers 20
 *   SOAK_SECONDS=1800 npm run soak
 *
 * Options (flag or environment): --seconds / SOAK_SECONDS (600), --rate / SOAK_RATE
 * (operations per second, 100), --subscribers / SOAK_SUBSCRIBERS (50), --no-gc /
 * SOAK_NO_GC=1 (sample the gateway's heap without a forced collection first),
 * --json (the summary as JSON after the report).
 *
 * Exit code: 1 when any request, check or subscription failed; 2 when there
 * were no errors but memory grew beyond the thresholds; 0 otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createClient, type Client } from 'graphql-ws';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { benchMain, forkServer, type ChildServer } from './child';

export interface SoakOptions {
  seconds: number;
  /** Operations started per second, across the whole mix. */
  rate: number;
  subscribers: number;
  /** Force a full collection in the gateway before each heap sample, so the heap figure is what is retained. */
  gc: boolean;
  json: boolean;
}

const PREFIX = 'soak';
const UA = 'soak-bench/1.0';
const ADMIN = { email: 'soak-admin@example.com', password: 'soak-admin-password-1' };
const PASSWORD = 'soak-password-42';

// Fixed pools: sessions, carts, journeys and uniques stay bounded, so what grows is what the design retains.
const PRODUCTS = 40;
const CART_USERS = 100;
const GUESTS = 100;
const BUYERS = 150;
const LOGIN_USERS = 20;
const VISITORS = 500;
const PAGES = 30;
const STOCK = 1_000_000_000;
const price = (i: number): number => 100 + i * 37;
const productId = (i: number): string => `soak-${String(i).padStart(2, '0')}`;

const SAMPLE_MS = 10_000;
const PROGRESS_MS = 30_000;
const RESTOCK_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** Heap still in use after a full collection may grow at most this much per minute over the second half. */
const HEAP_SLOPE_MAX = 1024 * 1024;
/** Redis memory not accounted for by data the design retains may grow at most this much per minute. */
const REDIS_UNEXPLAINED_SLOPE_MAX = 256 * 1024;
/** Fewer samples than this in the second half give no growth verdict. */
const MIN_SLOPE_SAMPLES = 5;

// ---------------------------------------------------------------- the gateway process

async function serve(redisUrl: string): Promise<void> {
  const app = await startApp(
    loadConfig({
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      KEY_PREFIX: PREFIX,
      LOG_LEVEL: 'error',
      RATE_LIMIT_DEFAULT: 'off',
      SCRYPT_N: '1024',
      WORKER: '1',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      // Every subscriber connects from this one address.
      WS_MAX_CONNECTIONS_PER_IP: '1000000',
    }),
  );
  // How late the gateway's event loop ran between samples: past the 0.8 s command timeout, Redis calls fail.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.on('message', (msg: string) => {
    if (msg === 'mem') {
      const loopDelayMaxMs = loop.max / 1e6;
      const loopDelayP99Ms = loop.percentile(99) / 1e6;
      loop.reset();
      const before = process.memoryUsage();
      const gc = (globalThis as { gc?: () => void }).gc;
      const gcStart = performance.now();
      gc?.();
      const gcMs = performance.now() - gcStart;
      const after = gc ? process.memoryUsage() : before;
      const cpu = process.cpuUsage();
      process.send!({
        mem: {
          rss: after.rss,
          heapUsed: before.heapUsed,
          heapUsedAfterGc: after.heapUsed,
          heapTotal: after.heapTotal,
          external: after.external,
          cpuMicros: cpu.user + cpu.system,
          loopDelayMaxMs,
          loopDelayP99Ms,
          gcMs,
        },
      });
    }
    if (msg === 'stop') void app.close().finally(() => process.exit(0));
  });
  process.send!({ url: app.url });
}

interface GatewayMemory {
  rss: number;
  heapUsed: number;
  heapUsedAfterGc: number;
  heapTotal: number;
  external: number;
  cpuMicros: number;
  /** Event-loop delay since the previous sample. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** How long the forced collection took (it blocks the gateway's event loop). */
  gcMs: number;
}

// ---------------------------------------------------------------- requests and what they record

/** One failed request or check, by the code a client would act on. */
class Failure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// Answers are checked field by field right where they are used; typing each operation's result would double the file.
type Data = Record<string, any>;

async function post(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Data> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': UA };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new Failure(e.name === 'TimeoutError' ? 'TIMEOUT' : `NETWORK_${e.cause?.code ?? e.name}`, e.message);
  }
  let body: { data?: Data | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new Failure(`HTTP_${res.status}`, 'the answer is not JSON');
  }
  const first = body.errors?.[0];
  if (first) throw new Failure(first.extensions?.code ?? `HTTP_${res.status}`, first.message);
  if (res.status !== 200 || !body.data) throw new Failure(`HTTP_${res.status}`, JSON.stringify(body).slice(0, 200));
  return body.data;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

function sortedOf(xs: number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

class Recorder {
  /** Latencies of successful requests, by kind. */
  readonly byKind = new Map<string, number[]>();
  readonly all: number[] = [];
  window: number[] = [];
  readonly errors = new Map<string, number>();
  readonly errorsByKind = new Map<string, number>();
  /** The first few messages per code, to say what went wrong. */
  readonly examples = new Map<string, string[]>();
  requests = 0;
  windowRequests = 0;
  opsDone = 0;

  ok(kind: string, ms: number): void {
    let xs = this.byKind.get(kind);
    if (!xs) this.byKind.set(kind, (xs = []));
    xs.push(ms);
    this.all.push(ms);
    this.window.push(ms);
    this.requests++;
    this.windowRequests++;
  }

  /** A request that failed, or a check on an answer that failed (`request` false: no extra request). */
  fail(kind: string, code: string, message: string, request = true): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    this.errorsByKind.set(`${kind} ${code}`, (this.errorsByKind.get(`${kind} ${code}`) ?? 0) + 1);
    const ex = this.examples.get(code) ?? [];
    if (ex.length < 3) ex.push(`${kind}: ${message}`);
    this.examples.set(code, ex);
    if (request) {
      this.requests++;
      this.windowRequests++;
    }
  }

  errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }
}

// ---------------------------------------------------------------- the workload's actors

interface Cart {
  token: string;
  id: string;
  /** What the cart holds, as this client believes; null after an error, until a cart read resynchronises it. */
  model: Map<number, number> | null;
  busy: boolean;
}

/** Round-robin over actors of which each runs one operation at a time, so a cart's model stays exact. */
class Pool<T extends { busy: boolean }> {
  private next = 0;
  constructor(readonly items: T[]) {}
  take(): T | undefined {
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[(this.next + i) % this.items.length];
      if (!it.busy) {
        this.next = (this.next + i + 1) % this.items.length;
        it.busy = true;
        return it;
      }
    }
    return undefined;
  }
  release(it: T): void {
    it.busy = false;
  }
  /** Still taken: nothing says when a request the client gave up on will run, so this actor's state is unknowable. */
  retire(): void {
    this.retired++;
  }
  retired = 0;
}

/** The client gave up or lost the connection: the gateway may still run the request later. */
const outcomeUnknown = (err: unknown): boolean => err instanceof Failure && (err.code === 'TIMEOUT' || err.code.startsWith('NETWORK_'));

/** mulberry32: the same mix and choices on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const Q = {
  products: 'query Products($o: Int) { products(limit: 20, offset: $o) { id name priceCents stock } }',
  product: 'query Product($id: ID!) { product(id: $id) { id name priceCents stock } }',
  recommendations: 'query Recommendations($id: ID!) { recommendations(productId: $id, limit: 5) { id stock } }',
  cart: 'query Cart { cart { itemCount subtotalCents items { quantity product { id } } } }',
  addToCart: 'mutation AddToCart($p: ID!, $q: Int!) { addToCart(input: { productId: $p, quantity: $q }) { itemCount subtotalCents } }',
  setQuantity: 'mutation SetCartItemQuantity($p: ID!, $q: Int!) { setCartItemQuantity(productId: $p, quantity: $q) { itemCount subtotalCents } }',
  remove: 'mutation RemoveFromCart($p: ID!) { removeFromCart(productId: $p) { itemCount subtotalCents } }',
  clearCart: 'mutation ClearCart { clearCart { itemCount } }',
  checkout: 'mutation Checkout($k: String) { checkout(idempotencyKey: $k) { id status totalCents items { productId quantity unitPriceCents } } }',
  myOrders: 'query MyOrders { myOrders(limit: 5) { id status } }',
  pageView: 'mutation TrackPageView($i: PageViewInput!) { trackPageView(input: $i) }',
  conversion: 'mutation TrackConversion($i: ConversionInput!) { trackConversion(input: $i) }',
  me: 'query Me { me { id } }',
  login: 'mutation Login($i: LoginInput!) { login(input: $i) { token user { id } } }',
  register: 'mutation Register($i: RegisterInput!) { register(input: $i) { token user { id } } }',
  guest: 'mutation StartGuestSession { startGuestSession { token session { id } } }',
  upsert: 'mutation UpsertProduct($i: ProductInput!) { upsertProduct(input: $i) { id stock } }',
  queueStats: 'query QueueStats { queueStats { waiting delayed active completed failed } }',
};

const SUBSCRIPTION_EVENTS = 'subscription SoakEvents { analyticsEvents { type page at } }';
const SUBSCRIPTION_LIVE =
  'subscription SoakLive { liveStats { at totalPageViews totalConversions uniqueVisitors topPages(limit: 5) { page views } viewsPerMinute { count } } }';

class Workload {
  readonly rec = new Recorder();
  readonly rnd = prng(0x50a4);
  readonly orderIds = new Set<string>();
  /** Successful trackPageView and trackConversion calls: each must reach every subscriber once. */
  tracked = 0;
  /** Failed tracking calls: the event may or may not have been published. */
  trackUnknown = 0;
  private keySeq = 0;
  private restockNext = 0;

  constructor(
    readonly url: string,
    readonly adminToken: string,
    readonly carts: Pool<Cart>,
    readonly guests: Pool<Cart>,
    readonly buyers: Pool<Cart>,
    readonly loginUsers: Array<{ email: string; id: string }>,
  ) {}

  private int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  /** One request, timed from `since` (the moment its operation was due, for the first request of one). */
  private async call(kind: string, query: string, variables: Record<string, unknown>, token?: string, since = performance.now()): Promise<Data> {
    try {
      const data = await post(this.url, query, variables, token);
      this.rec.ok(kind, performance.now() - since);
      return data;
    } catch (err) {
      const f = err instanceof Failure ? err : new Failure('CLIENT_ERROR', String(err));
      this.rec.fail(kind, f.code, f.message);
      throw f;
    }
  }

  private check(kind: string, ok: boolean, what: () => string): void {
    if (!ok) {
      const message = what();
      this.rec.fail(kind, 'WRONG_ANSWER', message, false);
      throw new Failure('WRONG_ANSWER', message);
    }
  }

  /** The mix; weights are percentages of operations. */
  readonly mix: Array<{ name: string; weight: number; run: (due: number) => Promise<void> }> = [
    { name: 'browse: products', weight: 12, run: (due) => this.browseProducts(due) },
    { name: 'browse: product', weight: 14, run: (due) => this.browseProduct(due) },
    { name: 'browse: recommendations', weight: 8, run: (due) => this.browseRecommendations(due) },
    { name: 'cart (signed in)', weight: 14, run: (due) => this.cartOp(this.carts, 'user', due) },
    { name: 'cart (guest)', weight: 10, run: (due) => this.cartOp(this.guests, 'guest', due) },
    { name: 'checkout', weight: 5, run: (due) => this.checkout(due) },
    { name: 'track: page view', weight: 20, run: (due) => this.pageView(due) },
    { name: 'track: conversion', weight: 5, run: (due) => this.conversion(due) },
    { name: 'me', weight: 8, run: (due) => this.me(due) },
    { name: 'login', weight: 2, run: (due) => this.login(due) },
    { name: 'my orders', weight: 2, run: (due) => this.myOrders(due) },
  ];
  private readonly totalWeight = this.mix.reduce((a, m) => a + m.weight, 0);

  pick(): (due: number) => Promise<void> {
    let r = this.rnd() * this.totalWeight;
    for (const m of this.mix) {
      if ((r -= m.weight) < 0) return m.run;
    }
    return this.mix[this.mix.length - 1].run;
  }

  /** Runs one operation; a failure was recorded where it happened, so it ends here. */
  async run(op: (due: number) => Promise<void>, due: number): Promise<void> {
    try {
      await op(due);
    } catch (err) {
      if (!(err instanceof Failure)) this.rec.fail('client', 'CLIENT_ERROR', String(err), false);
    } finally {
      this.rec.opsDone++;
    }
  }

  private async browseProducts(due: number): Promise<void> {
    const d = await this.call('products', Q.products, { o: 20 * this.int(2) }, undefined, due);
    this.check('products', d.products.length === 20, () => `${d.products.length} products in a page of 20`);
  }

  private async browseProduct(due: number): Promise<void> {
    const id = productId(this.int(PRODUCTS));
    const d = await this.call('product', Q.product, { id }, undefined, due);
    this.check('product', d.product?.id === id && d.product.stock > 0, () => `product ${id} answered ${JSON.stringify(d.product)}`);
  }

  private async browseRecommendations(due: number): Promise<void> {
    const id = productId(this.int(PRODUCTS));
    const d = await this.call('recommendations', Q.recommendations, { id }, undefined, due);
    const recs = d.recommendations as Array<{ id: string; stock: number }>;
    this.check(
      'recommendations',
      recs.length > 0 && recs.length <= 5 && recs.every((r) => r.id !== id && r.stock > 0),
      () => `recommendations for ${id}: ${JSON.stringify(recs)}`,
    );
  }

  private static units(model: Map<number, number>): number {
    let n = 0;
    for (const q of model.values()) n += q;
    return n;
  }

  private static subtotal(model: Map<number, number>): number {
    let n = 0;
    for (const [p, q] of model) n += q * price(p);
    return n;
  }

  /** One cart operation on one owner's cart, checked against what the cart must now hold. */
  private async cartOp(pool: Pool<Cart>, who: 'user' | 'guest', due: number): Promise<void> {
    const owner = pool.take();
    if (!owner) {
      this.rec.fail(`cart (${who})`, 'CLIENT_POOL_EXHAUSTED', 'every cart has an operation in flight', false);
      return;
    }
    try {
      const model = owner.model;
      const r = this.rnd();
      const lines = model ? [...model.keys()] : [];
      if (!model || r >= 0.75) {
        const d = await this.call('cart', Q.cart, {}, owner.token, due);
        const fresh = new Map<number, number>(
          (d.cart.items as Array<{ quantity: number; product: { id: string } }>).map((l) => [Number(l.product.id.slice(5)), l.quantity]),
        );
        if (model) {
          const same = fresh.size === model.size && [...model].every(([p, q]) => fresh.get(p) === q);
          this.check('cart', same, () => `cart holds ${JSON.stringify([...fresh])}, expected ${JSON.stringify([...model])}`);
        }
        owner.model = fresh;
        pool.release(owner);
        return;
      }
      let kind: string;
      let data: Data;
      if (r < 0.4) {
        const p = this.int(PRODUCTS);
        const q = 1 + this.int(3);
        if ((model.get(p) ?? 0) + q > 99) {
          kind = 'setCartItemQuantity';
          data = (await this.call(kind, Q.setQuantity, { p: productId(p), q: 1 }, owner.token, due)).setCartItemQuantity;
          model.set(p, 1);
        } else {
          kind = 'addToCart';
          data = (await this.call(kind, Q.addToCart, { p: productId(p), q }, owner.token, due)).addToCart;
          model.set(p, (model.get(p) ?? 0) + q);
        }
      } else if (r < 0.6) {
        const p = this.int(PRODUCTS);
        const q = this.int(6);
        kind = 'setCartItemQuantity';
        data = (await this.call(kind, Q.setQuantity, { p: productId(p), q }, owner.token, due)).setCartItemQuantity;
        if (q === 0) model.delete(p);
        else model.set(p, q);
      } else {
        const p = lines.length ? lines[this.int(lines.length)] : this.int(PRODUCTS);
        kind = 'removeFromCart';
        data = (await this.call(kind, Q.remove, { p: productId(p) }, owner.token, due)).removeFromCart;
        model.delete(p);
      }
      const units = Workload.units(model);
      const subtotal = Workload.subtotal(model);
      this.check(
        kind,
        data.itemCount === units && data.subtotalCents === subtotal,
        () => `cart answered ${data.itemCount} units / ${data.subtotalCents} cents, expected ${units} / ${subtotal}`,
      );
    } catch (err) {
      owner.model = null;
      if (outcomeUnknown(err)) pool.retire();
      else pool.release(owner);
      throw err;
    }
    pool.release(owner);
  }

  /** Fills a buyer's cart with one or two lines and buys it; one in ten retries the same key and must get the same order. */
  private async checkout(due: number): Promise<void> {
    const buyer = this.buyers.take();
    if (!buyer) {
      this.rec.fail('checkout', 'CLIENT_POOL_EXHAUSTED', 'every buyer has a checkout in flight', false);
      return;
    }
    try {
      let since = due;
      if (!buyer.model) {
        // An earlier step failed: what the cart holds is unknown, start from empty.
        await this.call('clearCart', Q.clearCart, {}, buyer.token, since);
        buyer.model = new Map();
        since = performance.now();
      }
      const model = buyer.model;
      const first = this.int(PRODUCTS);
      const picks = this.rnd() < 0.5 ? [first] : [first, (first + 1 + this.int(PRODUCTS - 1)) % PRODUCTS];
      for (const p of picks) {
        const q = 1 + this.int(2);
        const d = (await this.call('addToCart', Q.addToCart, { p: productId(p), q }, buyer.token, since)).addToCart;
        since = performance.now();
        model.set(p, (model.get(p) ?? 0) + q);
        this.check('addToCart', d.itemCount === Workload.units(model), () => `cart answered ${d.itemCount} units, expected ${Workload.units(model)}`);
      }
      const key = `soak-${buyer.id}-${this.keySeq++}`;
      const order = await this.placeOrder(key, buyer.token, since);
      buyer.model = new Map();
      this.orderIds.add(order.id);
      const items = order.items as Array<{ productId: string; quantity: number; unitPriceCents: number }>;
      const expected = Workload.subtotal(model);
      this.check(
        'checkout',
        ['PENDING', 'PROCESSING', 'COMPLETED'].includes(order.status) &&
          order.totalCents === expected &&
          items.length === model.size &&
          items.every((l) => model.get(Number(l.productId.slice(5))) === l.quantity),
        () => `order ${JSON.stringify(order)}, expected ${JSON.stringify([...model])} totalling ${expected}`,
      );
      if (this.rnd() < 0.1) {
        const again = (await this.call('checkout (same key)', Q.checkout, { k: key }, buyer.token)).checkout;
        this.check('checkout (same key)', again.id === order.id, () => `the same key gave order ${again.id}, first ${order.id}`);
      }
    } catch (err) {
      buyer.model = null;
      if (outcomeUnknown(err)) this.buyers.retire();
      else this.buyers.release(buyer);
      throw err;
    }
    this.buyers.release(buyer);
  }

  /**
   * Checkout as a careful client does it: a failed attempt may still have placed the order (its
   * answer was lost), so it is retried with the same idempotency key, which returns that order.
   * The failure still counts as an error.
   */
  private async placeOrder(key: string, token: string, since: number): Promise<Data> {
    try {
      return (await this.call('checkout', Q.checkout, { k: key }, token, since)).checkout;
    } catch (err) {
      if (err instanceof Failure && err.code === 'WRONG_ANSWER') throw err;
      for (let attempt = 1; ; attempt++) {
        await sleep(1000);
        try {
          return (await this.call('checkout (retry after error)', Q.checkout, { k: key }, token)).checkout;
        } catch (again) {
          if (attempt === 3) throw again;
        }
      }
    }
  }

  private async pageView(due: number): Promise<void> {
    const i = { page: `/soak/p${this.int(PAGES)}`, referrer: 'https://example.com/', visitorId: `v${this.int(VISITORS)}` };
    const d = await this.call('trackPageView', Q.pageView, { i }, undefined, due).catch((err) => {
      this.trackUnknown++;
      throw err;
    });
    this.check('trackPageView', d.trackPageView === true, () => `answered ${JSON.stringify(d)}`);
    this.tracked++;
  }

  private async conversion(due: number): Promise<void> {
    const i = { type: this.rnd() < 0.7 ? 'purchase' : 'signup', valueCents: this.int(10_000), visitorId: `v${this.int(VISITORS)}` };
    const d = await this.call('trackConversion', Q.conversion, { i }, undefined, due).catch((err) => {
      this.trackUnknown++;
      throw err;
    });
    this.check('trackConversion', d.trackConversion === true, () => `answered ${JSON.stringify(d)}`);
    this.tracked++;
  }

  private async me(due: number): Promise<void> {
    const u = this.carts.items[this.int(this.carts.items.length)];
    const d = await this.call('me', Q.me, {}, u.token, due);
    this.check('me', d.me?.id === u.id, () => `me answered ${JSON.stringify(d.me)} for ${u.id}`);
  }

  /** A fresh sign-in of one of few users: past SESSIONS_PER_USER the oldest session goes, so sessions stay bounded. */
  private async login(due: number): Promise<void> {
    const u = this.loginUsers[this.int(this.loginUsers.length)];
    const d = await this.call('login', Q.login, { i: { email: u.email, password: PASSWORD } }, undefined, due);
    this.check('login', d.login.user?.id === u.id && typeof d.login.token === 'string', () => `login answered ${JSON.stringify(d.login.user)}`);
  }

  private async myOrders(due: number): Promise<void> {
    const b = this.buyers.items[this.int(this.buyers.items.length)];
    const d = await this.call('myOrders', Q.myOrders, {}, b.token, due);
    this.check('myOrders', Array.isArray(d.myOrders) && d.myOrders.length <= 5, () => `myOrders answered ${JSON.stringify(d.myOrders)}`);
  }

  /** Puts one product back to full stock, so no checkout can ever be short (and the catalog cache sees writes). */
  async restock(): Promise<void> {
    const i = this.restockNext++ % PRODUCTS;
    try {
      const d = await this.call(
        'upsertProduct',
        Q.upsert,
        { i: { id: productId(i), name: `Soak product ${i}`, priceCents: price(i), stock: STOCK } },
        this.adminToken,
      );
      this.check('upsertProduct', d.upsertProduct.stock === STOCK, () => `upsert answered ${JSON.stringify(d.upsertProduct)}`);
    } catch {
      // recorded where it failed
    }
  }
}

// ---------------------------------------------------------------- subscribers

class Subscribers {
  readonly clients: Client[] = [];
  readonly events: Uint32Array;
  readonly live: Uint32Array;
  readonly lastTotal: Float64Array;
  readonly latencies: number[] = [];
  lastArrival = 0;
  counting = false;
  closing = false;

  constructor(
    readonly n: number,
    private readonly rec: Recorder,
  ) {
    this.events = new Uint32Array(n);
    this.live = new Uint32Array(n);
    this.lastTotal = new Float64Array(n);
  }

  async open(url: string, token: string): Promise<void> {
    class UaWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'user-agent': UA } });
      }
    }
    for (let i = 0; i < this.n; i++) {
      const client = createClient({
        url: url.replace(/^http/, 'ws') + '/graphql',
        webSocketImpl: UaWebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: false,
        on: {
          closed: (e) => {
            if (!this.closing)
              this.rec.fail(
                'subscriber',
                'WS_CLOSED',
                `socket ${i} closed: ${(e as { code?: number }).code ?? ''} ${(e as { reason?: string }).reason ?? ''}`,
                false,
              );
          },
        },
      });
      this.clients.push(client);
      const sink = (what: string) => ({
        error: (err: unknown) => {
          if (!this.closing) this.rec.fail('subscriber', 'SUBSCRIPTION_ERROR', `${what} ${i}: ${JSON.stringify(err).slice(0, 200)}`, false);
        },
        complete: () => {
          if (!this.closing) this.rec.fail('subscriber', 'SUBSCRIPTION_ENDED', `${what} ${i} completed`, false);
        },
      });
      client.subscribe<{ analyticsEvents: { type: string; page: string | null; at: string } }>(
        { query: SUBSCRIPTION_EVENTS },
        {
          next: (v) => {
            if (v.errors?.length) this.rec.fail('subscriber', 'SUBSCRIPTION_ERROR', JSON.stringify(v.errors).slice(0, 200), false);
            const e = v.data?.analyticsEvents;
            if (!e) return;
            this.lastArrival = Date.now();
            if (this.counting || this.events[i] === 0) this.events[i]++;
            if (this.counting) this.latencies.push(this.lastArrival - Date.parse(e.at));
          },
          ...sink('analyticsEvents'),
        },
      );
      client.subscribe<{ liveStats: { totalPageViews: number } }>(
        { query: SUBSCRIPTION_LIVE },
        {
          next: (v) => {
            if (v.errors?.length) this.rec.fail('subscriber', 'SUBSCRIPTION_ERROR', JSON.stringify(v.errors).slice(0, 200), false);
            const s = v.data?.liveStats;
            if (!s) return;
            if (this.counting || this.live[i] === 0) this.live[i]++;
            if (s.totalPageViews < this.lastTotal[i])
              this.rec.fail('liveStats', 'WRONG_ANSWER', `subscriber ${i}: totalPageViews went from ${this.lastTotal[i]} back to ${s.totalPageViews}`, false);
            this.lastTotal[i] = s.totalPageViews;
          },
          ...sink('liveStats'),
        },
      );
      if (i % 25 === 24) await sleep(50);
    }
  }

  ready(): boolean {
    return this.events.every((x) => x > 0) && this.live.every((x) => x > 0);
  }

  startCounting(): void {
    this.events.fill(0);
    this.live.fill(0);
    this.latencies.length = 0;
    this.counting = true;
  }

  sum(xs: Uint32Array): number {
    return xs.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.clients.map(async (c) => c.dispose()));
  }
}

// ---------------------------------------------------------------- memory samples

/** Key families by what they hold; `retained` ones grow with traffic by design and are accounted for. */
const FAMILIES: Array<{ name: string; re: RegExp; retained: boolean }> = [
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

function familyOf(key: string): (typeof FAMILIES)[number] | { name: string; retained: false } {
  if (!key.startsWith(`${PREFIX}:`)) return { name: 'other (no prefix)', retained: false };
  const rest = key.slice(PREFIX.length + 1);
  return FAMILIES.find((f) => f.re.test(rest)) ?? { name: 'other', retained: false };
}

interface KeyCensus {
  keys: number;
  byFamily: Record<string, { keys: number; bytes?: number }>;
  /** MEMORY USAGE summed over the retained families (every family with `all`). */
  retainedBytes: number;
}

/** Walks the keyspace; sizes the retained families (or all with `all`, for the start and end breakdown). */
async function census(redis: Redis, all: boolean): Promise<KeyCensus> {
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

interface Sample {
  /** Seconds since the load started. */
  t: number;
  gateway: GatewayMemory;
  usedMemory: number;
  dbsize: number;
  retainedBytes: number;
  redisCpuSeconds: number;
}

async function redisMemory(redis: Redis): Promise<{ usedMemory: number; dbsize: number; cpu: number }> {
  const [mem, cpu, dbsize] = await Promise.all([redis.info('memory'), redis.info('cpu'), redis.dbsize()]);
  const num = (text: string, field: string): number => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return { usedMemory: num(mem, 'used_memory'), dbsize, cpu: num(cpu, 'used_cpu_user') + num(cpu, 'used_cpu_sys') };
}

async function takeSample(gw: ChildServer, redis: Redis, t: number): Promise<Sample> {
  const gateway = await gw.ask<GatewayMemory>('mem');
  const r = await redisMemory(redis);
  const c = await census(redis, false);
  return { t, gateway, usedMemory: r.usedMemory, dbsize: r.dbsize, retainedBytes: c.retainedBytes, redisCpuSeconds: r.cpu };
}

/** Least-squares slope of y over x (minutes): units per minute. */
function slopePerMinute(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

// ---------------------------------------------------------------- formatting

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const mb = (b: number): string => `${round(b / 1024 / 1024, 1)} MB`;
const size = (b: number): string => (b < 1024 * 1024 ? `${round(b / 1024, 1)} KB` : mb(b));
const kbPerMin = (b: number): string => (Number.isFinite(b) ? `${b >= 0 ? '+' : ''}${round(b / 1024, 1)} KB/min` : 'n/a');
const ms = (x: number): string => (Number.isFinite(x) ? `${round(x, 1)} ms` : '-');
const clock = (s: number): string => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

async function metricsErrors(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^graphql_errors_total\{code="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

// ---------------------------------------------------------------- the run

async function setUp(url: string, log: (l: string) => void): Promise<Workload> {
  const admin = (await post(url, Q.login, { i: ADMIN })).login.token as string;
  for (let i = 0; i < PRODUCTS; i++) {
    await post(url, Q.upsert, { i: { id: productId(i), name: `Soak product ${i}`, priceCents: price(i), stock: STOCK } }, admin);
  }
  const register = async (tag: string, i: number): Promise<Cart> => {
    const email = `soak-${tag}-${i}@example.com`;
    const d = (await post(url, Q.register, { i: { email, password: PASSWORD, name: `Soak ${tag} ${i}` } })).register;
    return { token: d.token, id: d.user.id, model: new Map(), busy: false };
  };
  const batch = async <T>(n: number, make: (i: number) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => make(i + j)))));
    return out;
  };
  const carts = await batch(CART_USERS, (i) => register('cart', i));
  const buyers = await batch(BUYERS, (i) => register('buyer', i));
  const logins = await batch(LOGIN_USERS, async (i) => ({ email: `soak-login-${i}@example.com`, id: (await register('login', i)).id }));
  // Fill each signing-in user's sessions to SESSIONS_PER_USER (10) now: from the start, every sign-in evicts one.
  await batch(LOGIN_USERS * 9, (i) => post(url, Q.login, { i: { email: logins[i % LOGIN_USERS].email, password: PASSWORD } }));
  const guests = await batch(GUESTS, async () => {
    const d = (await post(url, Q.guest, {})).startGuestSession;
    return { token: d.token as string, id: d.session.id as string, model: new Map<number, number>(), busy: false };
  });
  log(
    `set up: ${PRODUCTS} products (stock ${STOCK.toLocaleString('en-US')} each, topped up every ${RESTOCK_MS / 1000} s), ${CART_USERS} shoppers, ${GUESTS} guests, ${BUYERS} buyers, ${LOGIN_USERS} users signing in, ${VISITORS} visitors over ${PAGES} pages`,
  );
  return new Workload(url, admin, new Pool(carts), new Pool(guests), new Pool(buyers), logins);
}

export interface SoakResult {
  ok: boolean;
  exitCode: number;
  [k: string]: unknown;
}

export async function runSoak(opts: SoakOptions, log: (line: string) => void = console.log): Promise<SoakResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-soak-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  let gw: ChildServer | undefined;
  let subs: Subscribers | undefined;
  const timers: NodeJS.Timeout[] = [];
  try {
    gw = await forkServer(__filename, ['--serve', server.url], 'gateway', opts.gc ? ['--expose-gc'] : []);
    const gateway = gw;
    log(
      `soak: ${opts.seconds} s at ${opts.rate} operations/s (open loop), ${opts.subscribers} WebSocket subscribers; gateway pid ${gateway.child.pid} (WORKER=1, rate limits off), private redis-server ${server.url}`,
    );
    const w = await setUp(gateway.url, log);
    const rec = w.rec;

    subs = new Subscribers(opts.subscribers, rec);
    await subs.open(gateway.url, w.adminToken);
    const readyBy = Date.now() + 60_000;
    while (!subs.ready() && Date.now() < readyBy) {
      await post(gateway.url, Q.pageView, { i: { page: '/soak/probe', visitorId: 'probe' } });
      await sleep(300);
    }
    if (!subs.ready()) throw new Error(`only ${subs.events.filter((x) => x > 0).length} of ${opts.subscribers} subscribers received events within 60 s`);
    await sleep(2000);
    subs.startCounting();
    log(`subscribers: ${opts.subscribers} sockets, each with analyticsEvents and liveStats, all receiving`);

    const startCensus = await census(redis, true);
    const metricsBefore = await metricsErrors(gateway.url);
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();

    const startLoad = loadavg()
      .map((x) => round(x, 2))
      .join(' ');
    const ownCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const elapsed = (): number => (performance.now() - t0) / 1000;
    const samples: Sample[] = [await takeSample(gateway, redis, 0)];
    log(
      `start: Redis ${mb(samples[0].usedMemory)} used_memory, ${startCensus.keys} keys; gateway heap ${mb(samples[0].gateway.heapUsedAfterGc)}${opts.gc ? ' (after a full collection)' : ''}, rss ${mb(samples[0].gateway.rss)}`,
    );

    let sampling: Promise<void> | undefined;
    const sample = (): void => {
      if (sampling) return;
      sampling = takeSample(gateway, redis, elapsed())
        .then((s) => void samples.push(s))
        .catch((err) => rec.fail('sampler', 'SAMPLE_FAILED', String(err), false))
        .finally(() => (sampling = undefined));
    };
    timers.push(setInterval(sample, SAMPLE_MS));
    timers.push(setInterval(() => void w.restock(), RESTOCK_MS));
    const inflight = new Set<Promise<void>>();
    let lastProgress = { t: 0, ops: 0 };
    const progress = (): void => {
      const t = elapsed();
      const win = sortedOf(rec.window);
      const s = samples[samples.length - 1];
      log(
        `[${clock(t)}] ${rec.opsDone} ops done, ${round((rec.opsDone - lastProgress.ops) / (t - lastProgress.t))}/s (target ${opts.rate}/s), ${inflight.size} in flight; ${round(rec.windowRequests / (t - lastProgress.t))} req/s ` +
          `p50 ${ms(percentile(win, 0.5))} p99 ${ms(percentile(win, 0.99))}; errors ${rec.errorCount()}; ` +
          `events ${subs!.sum(subs!.events)} of ${w.tracked * opts.subscribers}, liveStats ${subs!.sum(subs!.live)}; ` +
          `gateway heap ${mb(s.gateway.heapUsedAfterGc)}, event-loop delay max ${ms(s.gateway.loopDelayMaxMs)}; Redis ${mb(s.usedMemory)}, ${s.dbsize} keys`,
      );
      rec.window = [];
      rec.windowRequests = 0;
      lastProgress = { t, ops: rec.opsDone };
    };
    timers.push(setInterval(progress, PROGRESS_MS));

    // Open loop: operation k is due at t0 + k / rate, whatever the state of earlier ones.
    const total = Math.round(opts.seconds * opts.rate);
    const interval = 1000 / opts.rate;
    let started = 0;
    let maxLate = 0;
    while (started < total) {
      const now = performance.now();
      while (started < total && t0 + started * interval <= now) {
        const due = t0 + started * interval;
        maxLate = Math.max(maxLate, now - due);
        const p: Promise<void> = w.run(w.pick(), due).finally(() => inflight.delete(p));
        inflight.add(p);
        started++;
      }
      if (started < total) await sleep(Math.max(0, t0 + started * interval - performance.now()));
    }
    const sendSeconds = elapsed();
    await Promise.race([Promise.all(inflight), sleep(REQUEST_TIMEOUT_MS + 1000)]);
    const loadSeconds = elapsed();
    for (const t of timers.splice(0)) clearInterval(t);
    lag.disable();
    await sampling;
    if (samples[samples.length - 1].t < opts.seconds - 1) samples.push(await takeSample(gateway, redis, elapsed()));
    if (inflight.size)
      rec.fail('client', 'STILL_IN_FLIGHT', `${inflight.size} operations unfinished ${REQUEST_TIMEOUT_MS / 1000} s after the last was started`, false);

    // Let the last events reach every subscriber: until all arrived or nothing arrived for 3 s (at most 30 s).
    // Each subscriber must see every event tracked successfully, and at most those plus the failed calls (which may have been published).
    const expectedEvents = w.tracked * opts.subscribers;
    const drainBy = Date.now() + 30_000;
    while (subs.events.some((n) => n < w.tracked) && Date.now() < drainBy && Date.now() - subs.lastArrival < 3000) await sleep(200);
    const gotEvents = subs.sum(subs.events);
    const missing = subs.events.reduce((a, n) => a + Math.max(0, w.tracked - n), 0);
    const extra = subs.events.reduce((a, n) => a + Math.max(0, n - w.tracked - w.trackUnknown), 0);
    if (missing > 0) rec.fail('analyticsEvents', 'EVENTS_MISSING', `${missing} of ${expectedEvents} deliveries never arrived`, false);
    if (extra > 0) rec.fail('analyticsEvents', 'EVENTS_DUPLICATED', `${extra} deliveries beyond the events tracked (failed calls included)`, false);
    const liveMin = Math.min(...subs.live);
    const liveTotal = subs.sum(subs.live);
    const eventLatency = sortedOf(subs.latencies);
    await subs.close();

    // Every order must be processed by the worker: wait for the queue to empty, then read every order's status.
    let queue: Data = {};
    const queueBy = Date.now() + 60_000;
    do {
      queue = (await post(gateway.url, Q.queueStats, {}, w.adminToken)).queueStats;
      if (queue.waiting + queue.active + queue.delayed === 0) break;
      await sleep(500);
    } while (Date.now() < queueBy);
    if (queue.failed > 0) rec.fail('order.process', 'JOB_FAILED', `${queue.failed} jobs dead-lettered`, false);
    if (queue.waiting + queue.active + queue.delayed > 0) rec.fail('order.process', 'JOBS_NOT_DRAINED', `queue after 60 s: ${JSON.stringify(queue)}`, false);
    // Every order in Redis, including those of checkouts whose answer the client never saw.
    const statuses: Record<string, number> = {};
    const stored = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:order:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        stored.add(key.slice(key.lastIndexOf(':') + 1));
        const status = (await redis.hget(key, 'status')) ?? 'UNREADABLE';
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    } while (cursor !== '0');
    const notDone = stored.size - (statuses.COMPLETED ?? 0);
    if (notDone > 0) rec.fail('order.process', 'ORDER_NOT_COMPLETED', `${notDone} orders not COMPLETED: ${JSON.stringify(statuses)}`, false);
    const lost = [...w.orderIds].filter((id) => !stored.has(id)).length;
    if (lost > 0) rec.fail('checkout', 'ORDER_MISSING', `${lost} orders answered to the client are not in Redis`, false);

    const endCensus = await census(redis, true);
    const metricsAfter = await metricsErrors(gateway.url);
    const gatewayErrors: Record<string, number> = {};
    for (const [code, n] of Object.entries(metricsAfter)) if (n - (metricsBefore[code] ?? 0) > 0) gatewayErrors[code] = n - (metricsBefore[code] ?? 0);

    // ------------------------------------------------------------ the report
    const first = samples[0];
    const last = samples[samples.length - 1];
    const half = samples.filter((s) => s.t >= opts.seconds / 2);
    const heapSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.gateway.heapUsedAfterGc })));
    const rssSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.gateway.rss })));
    const redisSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.usedMemory })));
    const retainedSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.retainedBytes })));
    const unexplainedSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.usedMemory - s.retainedBytes })));
    const keysSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.dbsize })));
    const gatewayCpu = round(((last.gateway.cpuMicros - first.gateway.cpuMicros) / 1e6 / (last.t - first.t)) * 100, 0);
    const redisCpu = round(((last.redisCpuSeconds - first.redisCpuSeconds) / (last.t - first.t)) * 100, 0);
    const own = process.cpuUsage(ownCpu0);
    const ownCpu = round(((own.user + own.system) / 1e6 / loadSeconds) * 100, 0);

    log('');
    log(`== soak report: ${opts.seconds} s, target ${opts.rate} operations/s ==`);
    log(
      `throughput: ${started} operations started in ${round(sendSeconds)} s (${round(started / sendSeconds)}/s of ${opts.rate} target), ${rec.opsDone} finished by ${round(loadSeconds)} s; ${rec.requests} requests (${round(rec.requests / loadSeconds)}/s); the scheduler started an operation at most ${ms(maxLate)} late`,
    );
    log(
      `machine: ${cpus().length} cores, load average ${startLoad} at the start, ${loadavg()
        .map((x) => round(x, 2))
        .join(' ')} at the end`,
    );
    const loopMax = Math.max(...samples.slice(1).map((s) => s.gateway.loopDelayMaxMs));
    const loopP99 = Math.max(...samples.slice(1).map((s) => s.gateway.loopDelayP99Ms));
    const gcMax = Math.max(...samples.map((s) => s.gateway.gcMs));
    log(
      `gateway event-loop delay: worst p99 of a ${SAMPLE_MS / 1000} s interval ${ms(loopP99)}, max ${ms(loopMax)}${opts.gc ? `; each forced collection also blocks it, the longest for ${ms(gcMax)}` : ''}`,
    );
    log(
      `load generator event-loop delay: p50 ${ms(lag.percentile(50) / 1e6)}, p99 ${ms(lag.percentile(99) / 1e6)}, max ${ms(lag.max / 1e6)} (latencies include it); CPU: gateway ${gatewayCpu}% of a core, redis-server ${redisCpu}%, load generator and subscribers ${ownCpu}%`,
    );
    const all = sortedOf(rec.all);
    log(
      `latency (successful requests, from when the operation was due): overall p50 ${ms(percentile(all, 0.5))}, p99 ${ms(percentile(all, 0.99))}, max ${ms(all[all.length - 1])}`,
    );
    const kinds = [...rec.byKind.keys()].sort();
    const latencyByKind: Record<string, { n: number; p50: number; p99: number; max: number }> = {};
    for (const k of kinds) {
      const xs = sortedOf(rec.byKind.get(k)!);
      latencyByKind[k] = { n: xs.length, p50: round(percentile(xs, 0.5), 2), p99: round(percentile(xs, 0.99), 2), max: round(xs[xs.length - 1], 2) };
      log(
        `  ${k.padEnd(22)} ${String(xs.length).padStart(7)}  p50 ${ms(percentile(xs, 0.5)).padStart(9)}  p99 ${ms(percentile(xs, 0.99)).padStart(9)}  max ${ms(xs[xs.length - 1]).padStart(9)}`,
      );
    }
    const errors = rec.errorCount();
    log(
      `errors: ${errors}${errors ? ` ${JSON.stringify(Object.fromEntries(rec.errors))}` : ''}; gateway's graphql_errors_total during the run: ${JSON.stringify(gatewayErrors)}`,
    );
    for (const [kc, n] of rec.errorsByKind) log(`  ${kc}: ${n}`);
    for (const [code, ex] of rec.examples) for (const e of ex) log(`  e.g. ${code}: ${e.slice(0, 300)}`);
    log(
      `subscriptions: analyticsEvents ${gotEvents} deliveries, ${expectedEvents} expected (${w.tracked} events x ${opts.subscribers}; ${w.trackUnknown} failed tracking calls may add up to ${w.trackUnknown * opts.subscribers}), delivery latency p50 ${ms(percentile(eventLatency, 0.5))} p99 ${ms(percentile(eventLatency, 0.99))}; ` +
        `liveStats ${liveTotal} pushes (${round(liveTotal / opts.subscribers / (loadSeconds / 60))} per subscriber per minute, fewest ${liveMin})`,
    );
    log(`orders: ${w.orderIds.size} placed and answered, ${stored.size} in Redis, by status ${JSON.stringify(statuses)}; queue ${JSON.stringify(queue)}`);
    const retired = w.carts.retired + w.guests.retired + w.buyers.retired;
    if (retired) log(`actors retired after a request the client gave up on (its cart could still change): ${retired}`);
    log(
      `memory, ${samples.length} samples every ${SAMPLE_MS / 1000} s; slopes by least squares over the second half (${half.length} samples, t >= ${opts.seconds / 2} s):`,
    );
    log(
      `  gateway heap used${opts.gc ? ' after a full collection' : ''}: ${mb(first.gateway.heapUsedAfterGc)} -> ${mb(last.gateway.heapUsedAfterGc)}, slope ${kbPerMin(heapSlope)} (heap before collection ${mb(first.gateway.heapUsed)} -> ${mb(last.gateway.heapUsed)}; rss ${mb(first.gateway.rss)} -> ${mb(last.gateway.rss)}, slope ${kbPerMin(rssSlope)})`,
    );
    log(
      `  Redis used_memory: ${mb(first.usedMemory)} -> ${mb(last.usedMemory)}, slope ${kbPerMin(redisSlope)}; of it retained by design ${mb(first.retainedBytes)} -> ${mb(last.retainedBytes)}, slope ${kbPerMin(retainedSlope)}; the rest: slope ${kbPerMin(unexplainedSlope)}`,
    );
    log(
      `  Redis keys (DBSIZE): ${first.dbsize} at start, ${last.dbsize} at the end of the load, ${endCensus.keys} after the drain; slope ${round(keysSlope)} keys/min`,
    );
    const growthPerOrder = w.orderIds.size ? (endCensus.retainedBytes - startCensus.retainedBytes) / w.orderIds.size : NaN;
    log(
      `  retained by design, subtracted for the verdict: orders (a hash each, kept), order indexes and idempotency keys (an entry per order), domain event streams (order.placed and order.completed, trimmed near EVENT_STREAM_MAXLEN = 100000), ` +
        `BullMQ (completed jobs up to JOB_KEEP_COMPLETED = 1000, its event stream capped near 10000), analytics minute buckets (a hash per minute, expiring after ANALYTICS_RETENTION = 24h), ` +
        `visitor journeys (the last 50 pages of each of ${VISITORS} visitors, filling up); they grew by ${mb(endCensus.retainedBytes - startCensus.retainedBytes)}, ${round(growthPerOrder, 0)} bytes per order placed`,
    );
    log(
      `  bounded by the workload's pools: sessions (${LOGIN_USERS} users signing in, already at 10 sessions each), carts, unique-visitor HyperLogLogs, recommendations, catalog cache`,
    );
    log(`  keys by family (count, bytes by MEMORY USAGE), start -> end:`);
    const names = [...new Set([...Object.keys(startCensus.byFamily), ...Object.keys(endCensus.byFamily)])].sort();
    for (const n of names) {
      const a = startCensus.byFamily[n] ?? { keys: 0, bytes: 0 };
      const b = endCensus.byFamily[n] ?? { keys: 0, bytes: 0 };
      const retained = FAMILIES.find((f) => f.name === n)?.retained ? ' (retained)' : '';
      log(
        `    ${(n + retained).padEnd(38)} ${String(a.keys).padStart(6)} -> ${String(b.keys).padEnd(6)}  ${size(a.bytes ?? 0).padStart(9)} -> ${size(b.bytes ?? 0)}`,
      );
    }

    const enough = half.length >= MIN_SLOPE_SAMPLES;
    const heapOk = heapSlope < HEAP_SLOPE_MAX;
    const redisOk = unexplainedSlope < REDIS_UNEXPLAINED_SLOPE_MAX;
    const growth = !enough ? 'INCONCLUSIVE' : heapOk && redisOk ? 'PASS' : 'FAIL';
    const ok = errors === 0 && growth !== 'FAIL';
    const exitCode = errors > 0 ? 1 : growth === 'FAIL' ? 2 : 0;
    const why = enough
      ? ''
      : ` (${half.length} samples in the second half, ${MIN_SLOPE_SAMPLES} needed: run at least ${(MIN_SLOPE_SAMPLES * 2 * SAMPLE_MS) / 1000} s)`;
    log(
      `verdict: ${ok ? 'PASS' : 'FAIL'}: errors ${errors} (must be 0); growth ${growth}${why}: ` +
        `gateway heap slope ${kbPerMin(heapSlope)} (must be < ${kbPerMin(HEAP_SLOPE_MAX)}), Redis slope beyond retained data ${kbPerMin(unexplainedSlope)} (must be < ${kbPerMin(REDIS_UNEXPLAINED_SLOPE_MAX)})`,
    );

    return {
      ok,
      exitCode,
      options: opts,
      throughput: {
        target: opts.rate,
        started,
        achieved: round(started / sendSeconds, 2),
        finished: rec.opsDone,
        requests: rec.requests,
        requestsPerSec: round(rec.requests / loadSeconds, 2),
        maxLateMs: round(maxLate, 2),
      },
      latency: { overall: { p50: round(percentile(all, 0.5), 2), p99: round(percentile(all, 0.99), 2) }, byKind: latencyByKind },
      errors: Object.fromEntries(rec.errors),
      gatewayErrors,
      subscriptions: {
        expectedEvents,
        gotEvents,
        missing,
        extra,
        liveStatsPushes: liveTotal,
        fewestLiveStatsPushes: liveMin,
        latencyP50: percentile(eventLatency, 0.5),
        latencyP99: percentile(eventLatency, 0.99),
      },
      orders: { placed: w.orderIds.size, stored: stored.size, statuses, queue },
      memory: {
        samples,
        heapSlope,
        rssSlope,
        redisSlope,
        retainedSlope,
        unexplainedSlope,
        dbsizeStart: first.dbsize,
        dbsizeEnd: last.dbsize,
        dbsizeAfterDrain: endCensus.keys,
        startCensus,
        endCensus,
      },
      verdict: { growth, heapOk, redisOk },
    };
  } finally {
    for (const t of timers) clearInterval(t);
    if (subs && !subs.closing) await subs.close().catch(() => {});
    await gw?.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): SoakOptions {
  const num = (name: string, raw: string | undefined, def: number): number => {
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got "${raw}"`);
    return n;
  };
  const o: SoakOptions = {
    seconds: num('SOAK_SECONDS', env.SOAK_SECONDS, 600),
    rate: num('SOAK_RATE', env.SOAK_RATE, 100),
    subscribers: Math.round(num('SOAK_SUBSCRIBERS', env.SOAK_SUBSCRIBERS, 50)),
    gc: env.SOAK_NO_GC !== '1',
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') o.seconds = num(a, argv[++i], o.seconds);
    else if (a === '--rate') o.rate = num(a, argv[++i], o.rate);
    else if (a === '--subscribers') o.subscribers = Math.round(num(a, argv[++i], o.subscribers));
    else if (a === '--no-gc') o.gc = false;
    else if (a === '--json') o.json = true;
    else throw new Error(`unknown argument ${a}; options: --seconds <s> --rate <ops/s> --subscribers <n> --no-gc --json`);
  }
  return o;
}

if (require.main === module) {
  benchMain(
    ([redisUrl]) => serve(redisUrl),
    async (argv) => {
      let opts: SoakOptions;
      try {
        opts = parseArgs(argv, process.env);
      } catch (err) {
        console.error((err as Error).message);
        return 2;
      }
      const r = await runSoak(opts);
      if (opts.json) console.log(JSON.stringify(r, null, 2));
      return r.exitCode;
    },
  );
}
