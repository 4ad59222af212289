/** Carts and the catalog. */
import { bool, boundedDuration, duration, str, type Env } from './parse';

export interface CommerceConfig {
  /** CART_IDLE_TTL: a cart's idle lifetime. Default 30d. */
  readonly cartIdleTtlMs: number;
  /** GUEST_CART_GRACE: how long a guest's cart may outlive its guest session. Default 10m. */
  readonly guestCartGraceMs: number;
  /**
   * SAMPLE_CATALOG: add the sample products at start when the catalog is empty. Default on in
   * development, off under NODE_ENV=test; never in production, whatever the variable says.
   */
  readonly sampleCatalog: boolean;
}

export function readCommerce(env: Env, production: boolean): CommerceConfig {
  const sampleCatalog = bool(env, 'SAMPLE_CATALOG', str(env, 'NODE_ENV') !== 'test');
  return {
    sampleCatalog: sampleCatalog && !production,
    cartIdleTtlMs: duration(env, 'CART_IDLE_TTL', '30d'),
    guestCartGraceMs: boundedDuration(env, 'GUEST_CART_GRACE', '10m', '1d'),
  };
}
