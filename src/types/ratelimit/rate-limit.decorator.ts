/**
 * `@RateLimit({...})` on a resolver method adds a per-operation policy. It is
 * stored as a field extension, so the rate-limit plugin finds it on the
 * operation's root fields before anything executes. Several policies may be
 * given at once or by stacking the decorator; each occurrence of the field in
 * an operation (aliases included) charges each policy one point, or, for a field
 * taking a batch (`inputs: [...]`), one point per item.
 *
 * @example
 * @RateLimit({ name: 'login-ip', points: 60, window: '15m', burst: 20, by: 'ip', onRedisDown: 'closed' })
 */
import type { GraphQLField, GraphQLSchema } from 'graphql';
import { Extensions } from 'type-graphql';
import { parseDuration } from '../../config';
import type { SignInAttemptOptions } from '../../services/ratelimit/root-field';
import type { PartitionBy, RatePolicy } from '../../services/ratelimit/policy';

export interface RateLimitOptions {
  /** Unique policy name (letters, digits, - and _). */
  name: string;
  /** Steady rate: points per window. */
  points: number;
  /** `30s`, `15m`, `1h`… */
  window: string;
  /** Points a fresh client may spend at once. Default: `points`. */
  burst?: number;
  /** Default `identity` (signed-in user, else IP). `{ arg: 'input.email', kind: 'email' }` keys by an argument. */
  by?: PartitionBy;
  /** Default `open`. */
  onRedisDown?: 'open' | 'closed';
  /** Default true: the operation also spends the caller's default budget. */
  chargeDefault?: boolean;
}

const EXT_PREFIX = 'rateLimit:';
const NAME = /^[A-Za-z0-9_-]{1,40}$/;

function toPolicy(o: RateLimitOptions): RatePolicy {
  if (!NAME.test(o.name) || o.name === 'default') throw new Error(`@RateLimit: invalid policy name ${o.name}`);
  if (!Number.isInteger(o.points) || o.points < 1) throw new Error(`@RateLimit(${o.name}): points must be a positive integer`);
  const burst = o.burst ?? o.points;
  if (!Number.isInteger(burst) || burst < 1) throw new Error(`@RateLimit(${o.name}): burst must be a positive integer`);
  return {
    name: o.name,
    points: o.points,
    windowMs: parseDuration(`@RateLimit(${o.name}).window`, o.window),
    burst,
    by: o.by ?? 'identity',
    onRedisDown: o.onRedisDown ?? 'open',
    chargeDefault: o.chargeDefault ?? true,
    oversize: false,
  };
}

export function RateLimit(...options: RateLimitOptions[]): MethodDecorator {
  const ext: Record<string, RatePolicy> = {};
  for (const o of options) ext[EXT_PREFIX + o.name] = toPolicy(o);
  return Extensions(ext);
}

/** The policies declared on a root field. */
export function policiesOf(field: GraphQLField<unknown, unknown>): RatePolicy[] {
  const out: RatePolicy[] = [];
  for (const [k, v] of Object.entries(field.extensions ?? {})) if (k.startsWith(EXT_PREFIX)) out.push(v as RatePolicy);
  return out;
}

/** Every @RateLimit policy on the schema's root fields, in field order (a name twice: each occurrence). */
export function schemaPolicies(schema: GraphQLSchema): RatePolicy[] {
  const out: RatePolicy[] = [];
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()])
    for (const field of Object.values(type?.getFields() ?? {})) out.push(...policiesOf(field));
  return out;
}

const SIGN_IN_EXT = 'signInAttempt';

/** Where a sign-in field's email is among its arguments. */
export type { SignInAttemptOptions };

/**
 * Marks a root field as a password sign-in: each occurrence is charged the sign-in failure
 * budgets (docs/sessions.md, "Sign-in throttling") before it runs, and the resolver must report a success
 * through `AuthService` so that the point is given back. The budgets come from the
 * configuration (LOGIN_FAILURES_PER_*), which is why this marker carries none.
 */
export function SignInAttempt(options: SignInAttemptOptions): MethodDecorator {
  return Extensions({ [SIGN_IN_EXT]: { ...options } });
}

/** The sign-in marker of a root field, or null. */
export function signInOf(field: GraphQLField<unknown, unknown>): SignInAttemptOptions | null {
  return (field.extensions?.[SIGN_IN_EXT] as SignInAttemptOptions | undefined) ?? null;
}
