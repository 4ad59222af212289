/**
 * Carts: one hash per owner (productId -> quantity) under the `{catalog}` slot,
 * so a script can check a line against stock and change it in one round trip,
 * and checkout can empty it atomically. A cart's owner is the signed-in user
 * (one cart on every device) or the guest session. Carts expire after
 * `CART_IDLE_TTL` without use (default 30 days); a guest's cart at the latest
 * when its session could (`SESSION_MAX_AGE`). Prices are read at display
 * time, so a cart always shows current prices.
 */
import { MAX_ORDER_CENTS } from '../types/int';
import type { Config } from '../config';
import { AppError, ErrorCode, badInput, notFound } from '../errors';
import type { RedisClient } from '../redis/connection';
import type { Keys } from '../redis/keys';
import { runScript } from '../redis/scripts';
import type { SessionRecord } from './session.service';
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

/** The cart owner id of a session: its user, else the guest session itself. */
export const cartOwner = (session: Pick<SessionRecord, 'id' | 'userId'>): string =>
  session.userId ? `u:${session.userId}` : `g:${session.id}`;

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
    private readonly config: Pick<Config, 'cartIdleTtlMs' | 'sessionMaxAgeMs'>,
  ) {}

  /** A guest cart is unreachable once its session ends, so it never outlives the session's maximum age. */
  private ttl(owner: string): number {
    return owner.startsWith('g:') ? Math.min(this.config.cartIdleTtlMs, this.config.sessionMaxAgeMs) : this.config.cartIdleTtlMs;
  }

  private scriptKeys(owner: string): string[] {
    return [this.keys.cart(owner), this.keys.catalog('products'), this.keys.catalog('stock')];
  }

  async view(owner: string): Promise<CartView> {
    return cartFromFlat(await runScript<string[]>(this.redis, 'cartRead', this.scriptKeys(owner), [this.ttl(owner)]));
  }

  /** Adds units of a product; OUT_OF_STOCK (with `available` and `inCart`) beyond the stock. */
  add(owner: string, productId: string, quantity: number): Promise<CartView> {
    return this.update(owner, 'add', productId, quantity);
  }

  /** Sets a line's quantity; 0 removes the line. */
  setQuantity(owner: string, productId: string, quantity: number): Promise<CartView> {
    return this.update(owner, 'set', productId, quantity);
  }

  remove(owner: string, productId: string): Promise<CartView> {
    return this.update(owner, 'set', productId, 0);
  }

  async clear(owner: string): Promise<CartView> {
    await this.redis.del(this.keys.cart(owner));
    return cartFromFlat([]);
  }

  /** Moves a guest session's cart into the user's (quantities added, capped by stock); the guest cart is deleted. */
  async mergeGuest(guestSessionId: string, userId: string): Promise<number> {
    return runScript<number>(
      this.redis,
      'cartMerge',
      [this.keys.cart(`g:${guestSessionId}`), this.keys.cart(`u:${userId}`), this.keys.catalog('products'), this.keys.catalog('stock')],
      [MAX_LINE_QUANTITY, MAX_CART_LINES, this.config.cartIdleTtlMs],
    );
  }

  private async update(owner: string, mode: 'add' | 'set', productId: string, quantity: number): Promise<CartView> {
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
        throw new Error(`unexpected cart-update reply ${String(never)}`);
      }
    }
  }
}
