/**
 * GraphQL's Int is 32-bit, and the contract gives money as Int cents. Carts and
 * orders are kept under the limit when they are written (see MAX_ORDER_CENTS);
 * sums that only grow (revenue over all time) saturate at the limit instead of
 * failing the whole response.
 */
export const MAX_INT = 2_147_483_647;

/** The largest cart subtotal and order total: what an Int can carry. */
export const MAX_ORDER_CENTS = MAX_INT;

export const saturateInt = (n: number): number => (n > MAX_INT ? MAX_INT : n);
