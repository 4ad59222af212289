/** GraphQL's Int is 32-bit: totals that only grow are answered at most MAX_INT (services/commerce/money.ts). */
import { MAX_INT } from '../services/commerce/money';

export { MAX_INT };

export const saturateInt = (n: number): number => (n > MAX_INT ? MAX_INT : n);
