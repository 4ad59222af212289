/**
 * Money is integer cents, and the contract gives it as GraphQL Int, which is 32-bit. Carts and
 * orders are kept under the limit when they are written; sums that only grow (revenue over all
 * time) saturate at it when read (types/int.ts) instead of failing the whole response.
 */
export const MAX_INT = 2_147_483_647;

/** The largest cart subtotal and order total: what an Int can carry. */
export const MAX_ORDER_CENTS = MAX_INT;
