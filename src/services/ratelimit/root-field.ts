/** One root field of an operation, as the rate limiter charges it (read by plugins/ratelimit/operation.ts). */
import type { RatePolicy } from './policy';

/**
 * A password sign-in field (`@SignInAttempt`): where its email is. `email`: the dotted path of the
 * email argument, e.g. `input.email` (login). `viewer`: the signed-in caller's own address, for a field
 * that checks the caller's password (changePassword); without a signed-in caller it is not charged.
 */
export type SignInAttemptOptions = { email: string } | { viewer: true };

export interface RootField {
  name: string;
  policies: RatePolicy[];
  /** Set when the field is a password sign-in (`@SignInAttempt`). */
  signIn: SignInAttemptOptions | null;
  /** Coerced arguments; null when they cannot be coerced (execution will then refuse the operation anyway). */
  args: Record<string, unknown> | null;
}

/** Follows a dotted path (`input.email`) into coerced arguments. */
export function argAt(args: Record<string, unknown> | null, path: string): unknown {
  let cur: unknown = args;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Points a root field occurrence costs each of its per-operation policies: one, or for a field
 * taking a batch (`inputs: [...]`, as trackPageViews does) one per item, as the cost estimate counts it.
 */
export function itemsCharged(field: RootField): number {
  const inputs = field.args?.inputs;
  return Array.isArray(inputs) ? Math.max(1, inputs.length) : 1;
}
