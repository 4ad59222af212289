/** The workload: the mix of operations, each checked against what its answer must be. */
import { setTimeout as sleep } from 'node:timers/promises';
import { PAGES, PASSWORD, PRODUCTS, STOCK, VISITORS, price, productId, type Cart, type Pool } from './actors';
import { Q } from './queries';
import { Recorder } from './recorder';
import { Failure, outcomeUnknown, post, type Data } from './requests';

/** How often one product is put back to full stock (see Workload.restock). */
export const RESTOCK_MS = 10_000;

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

export class Workload {
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
