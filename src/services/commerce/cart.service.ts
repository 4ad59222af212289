/**
 * Carts: one hash per owner (productId -> quantity) under the `{catalog}` slot,
 * so a script can check a line against stock and change it in one round trip,
 * and checkout can empty it atomically. A cart's owner is the signed-in user
 * (one cart on every device) or the guest session. Carts expire after
 * `CART_IDLE_TTL` without use (default 30 days). A guest's cart is reachable only
 * through its session, so it lives as long as the session plus `GUEST_CART_GRACE`
 * (default 10m): each cart operation sets that deadline, the session's touch
 * extends it while the guest browses (see SessionService), and logout deletes it.
 * Prices are read at display time, so a cart always shows current prices.
 */
import { MAX_ORDER_CENTS } from './money';
import type { Config } from '../../config';
import { AppError, ErrorCode, badInput, notFound } from '../../util/errors';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import type { SessionRecord } from '../sessions/session.service';
import { productFrom, type ProductRecord } from './catalog.service';

/** Most units of one product in a cart. */
export const MAX_LINE_QUANTITY = 99;
/** Most distinct products in a cart. */
export const MAX_CART_LINES = 50;

export interface CartLine {
  product: ProductRecord;
  quantity: number;
}

export interface CartView {
  lines: CartLine[];
  itemCount: number;
  subtotalCents: number;
  currency: string | null;
}

/**
 * Whose cart: `u:<userId>` or `g:<guestSessionId>` (a bare id, as benchmarks use), or that id with
 * the guest session's absolute end (ms), which caps the guest cart's lifetime.
 */
export type CartOwner = string | { id: string; sessionExpiresAt: number };

/** The cart owner of a session: its user, else the guest session itself. */
export const cartOwner = (session: Pick<SessionRecord, 'id' | 'userId' | 'expiresAt'>): CartOwner =>
  session.userId ? `u:${session.userId}` : { id: `g:${session.id}`, sessionExpiresAt: session.expiresAt };

const ownerId = (owner: CartOwner): string => (typeof owner === 'string' ? owner : owner.id);

/** Builds the view from the flat {productId, quantity, productJson, stock, ...} the scripts return. */
export function cartFromFlat(flat: string[]): CartView {
  const lines: CartLine[] = [];
  for (let i = 0; i < flat.length; i += 4) {
    lines.push({ product: productFrom(flat[i], flat[i + 2], flat[i + 3]), quantity: Number(flat[i + 1]) });
  }
  return {
    lines,
    itemCount: lines.reduce((n, l) => n + l.quantity, 0),
    subtotalCents: lines.reduce((n, l) => n + l.quantity * l.product.priceCents, 0),
    currency: lines[0]?.product.currency ?? null,
  };
}

type UpdateReply = [1, string[]] | [-1] | [-2, number, number] | [-3, number] | [-4, number] | [-5, string] | [-6, number];

/** Owns the cart keys. Limits: {@link MAX_LINE_QUANTITY} units per line, {@link MAX_CART_LINES} lines. */
export class CartService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly config: Pick<Config, 'commerce' | 'sessions'>,
  ) {}

  /**
   * A guest cart is unreachable once its session ends: it lives until the session's end as of now
   * (idle lifetime, capped by the absolute end) plus the grace, and never longer than CART_IDLE_TTL.
   */
  private ttl(owner: CartOwner): number {
    if (!ownerId(owner).startsWith('g:')) return this.config.commerce.cartIdleTtlMs;
    const now = Date.now();
    const sessionEnds = Math.min(
      now + this.config.sessions.idleTtlMs,
      typeof owner === 'string' ? now + this.config.sessions.maxAgeMs : owner.sessionExpiresAt,
    );
    return Math.max(1, Math.min(this.config.commerce.cartIdleTtlMs, sessionEnds + this.config.commerce.guestCartGraceMs - now));
  }

  private scriptKeys(owner: CartOwner): string[] {
    return [this.keys.cart(ownerId(owner)), this.keys.catalog('products'), this.keys.catalog('stock')];
  }

  /**
   * Extends a guest cart to `untilMs` (absolute), never shortening it; a missing cart stays missing.
   * Skipped when CART_IDLE_TTL is shorter than a session's idle lifetime plus the grace: then the
   * cart's own idle lifetime decides, and browsing without touching the cart must not extend it.
   */
  async keepGuest(guestSessionId: string, untilMs: number): Promise<void> {
    if (this.config.commerce.cartIdleTtlMs < this.config.sessions.idleTtlMs + this.config.commerce.guestCartGraceMs) return;
    await this.redis.pexpireat(this.keys.cart(`g:${guestSessionId}`), untilMs, 'GT');
  }

  async view(owner: CartOwner): Promise<CartView> {
    return cartFromFlat(await runScript<string[]>(this.redis, 'cartRead', this.scriptKeys(owner), [this.ttl(owner)]));
  }

  /** Adds units of a product; OUT_OF_STOCK (with `available` and `inCart`) beyond the stock. */
  add(owner: CartOwner, productId: string, quantity: number): Promise<CartView> {
    return this.update(owner, 'add', productId, quantity);
  }

  /** Sets a line's quantity; 0 removes the line. */
  setQuantity(owner: CartOwner, productId: string, quantity: number): Promise<CartView> {
    return this.update(owner, 'set', productId, quantity);
  }

  remove(owner: CartOwner, productId: string): Promise<CartView> {
    return this.update(owner, 'set', productId, 0);
  }

  async clear(owner: CartOwner): Promise<CartView> {
    await this.redis.del(this.keys.cart(ownerId(owner)));
    return cartFromFlat([]);
  }

  /** Moves a guest session's cart into the user's (quantities added, capped by stock); the guest cart is deleted. */
  async mergeGuest(guestSessionId: string, userId: string): Promise<number> {
    return runScript<number>(
      this.redis,
      'cartMerge',
      [this.keys.cart(`g:${guestSessionId}`), this.keys.cart(`u:${userId}`), this.keys.catalog('products'), this.keys.catalog('stock')],
      [MAX_LINE_QUANTITY, MAX_CART_LINES, this.config.commerce.cartIdleTtlMs],
    );
  }

  private async update(owner: CartOwner, mode: 'add' | 'set', productId: string, quantity: number): Promise<CartView> {
    const reply = await runScript<UpdateReply>(this.redis, 'cartUpdate', this.scriptKeys(owner), [
      mode,
      productId,
      quantity,
      MAX_LINE_QUANTITY,
      MAX_CART_LINES,
      this.ttl(owner),
      MAX_ORDER_CENTS,
    ]);
    switch (reply[0]) {
      case 1:
        return cartFromFlat(reply[1]);
      case -1:
        throw notFound(`Product ${productId}`);
      case -2: {
        const [, available, inCart] = reply;
        const held = inCart > 0 ? ` and ${inCart} ${inCart === 1 ? 'is' : 'are'} already in your cart` : '';
        throw new AppError(ErrorCode.OUT_OF_STOCK, `Only ${available} of ${productId} ${available === 1 ? 'is' : 'are'} available${held}`, {
          productId,
          available,
          inCart,
        });
      }
      case -3:
        throw badInput(`At most ${reply[1]} units of one product fit in a cart`, { quantity: [`must bring the line to at most ${reply[1]}`] });
      case -4:
        throw badInput(`A cart holds at most ${reply[1]} different products`, { productId: [`would be line ${reply[1] + 1}; the most is ${reply[1]}`] });
      case -5:
        throw badInput(`Your cart is in ${reply[1]}; a product in another currency cannot be added`, { productId: [`is not priced in ${reply[1]}`] });
      case -6:
        throw badInput(`A cart may total at most ${reply[1]} cents`, { quantity: [`must keep the cart's subtotal at most ${reply[1]} cents`] });
      default: {
        const never: never = reply[0];
        throw new Error(`unexpected cartUpdate reply ${String(never)}`);
      }
    }
  }
}
