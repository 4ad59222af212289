/** Carts. */
import { boundedDuration, duration, type Env } from './parse';

export interface CommerceConfig {
  /** CART_IDLE_TTL: a cart's idle lifetime. Default 30d. */
  readonly cartIdleTtlMs: number;
  /** GUEST_CART_GRACE: how long a guest's cart may outlive its guest session. Default 10m. */
  readonly guestCartGraceMs: number;
}

export function readCommerce(env: Env): CommerceConfig {
  return {
    cartIdleTtlMs: duration(env, 'CART_IDLE_TTL', '30d'),
    guestCartGraceMs: boundedDuration(env, 'GUEST_CART_GRACE', '10m', '1d'),
  };
}
