/** Service records -> GraphQL objects of the rate-limit views. */
import type { GraphQLSchema } from 'graphql';
import type { ExtraPolicies } from '../../services/ratelimit/charges';
import { policiesOf, signInOf } from './rate-limit.decorator';
import type { RatePolicy } from '../../services/ratelimit/policy';
import { MAX_BLOCKED_SHOWN, type OverviewData } from '../../services/ratelimit/stats';
import type { PolicyView, RejectionEvent } from '../../services/ratelimit/ratelimit.service';
import type { BlockEntry } from '../../services/ratelimit/blocks';
import type { RateLimitOverview, RateLimitPolicy, RateLimitPolicyInfo, RateLimitRejection } from './ratelimit.type';

/** A policy as the service shows it -> RateLimitPolicy. */
export const toPolicy = (v: PolicyView): RateLimitPolicy => ({ ...v, configured: { ...v.configured } });

export const toRejection = (e: RejectionEvent): RateLimitRejection => ({ ...e, at: new Date(e.at) });

const partitionName = (p: RatePolicy): string => (typeof p.by === 'string' ? p.by : `arg:${p.by.arg}${p.by.withIp ? '+ip' : ''}`);

const info = (p: RatePolicy, fields: string[]): RateLimitPolicyInfo => ({
  name: p.name,
  points: p.points,
  windowSeconds: Math.ceil(p.windowMs / 1000),
  burst: p.burst,
  partition: partitionName(p),
  onRedisDown: p.onRedisDown,
  fields: fields.join(','),
});

type Effective = (p: RatePolicy) => RatePolicy;
const asConfigured: Effective = (p) => p;

/**
 * The default, per-address and API key policies, the sign-in budgets, and every @RateLimit policy found on the
 * schema's root fields, with the values in force (`effective`: admins' overrides applied).
 */
export function policiesInSchema(
  schema: GraphQLSchema,
  def: RatePolicy | null,
  extra?: ExtraPolicies,
  effective: Effective = asConfigured,
): RateLimitPolicyInfo[] {
  if (!def) return [];
  const s = extra?.signIn;
  const signIn = s ? [s.pair, s.ip, ...(s.email ? [s.email] : [])] : [];
  const found = new Map<string, { policy: RatePolicy; fields: string[] }>();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      for (const p of [...policiesOf(field), ...(signInOf(field) ? signIn : [])]) {
        const entry = found.get(p.name) ?? { policy: p, fields: [] };
        entry.fields.push(`${type!.name}.${field.name}`);
        found.set(p.name, entry);
      }
    }
  }
  return [
    info(effective(def), []),
    ...(extra?.address ? [info(effective(extra.address), [])] : []),
    ...(extra?.apiKey ? [info(effective(extra.apiKey), [])] : []),
    ...[...found.values()].map((e) => info(effective(e.policy), e.fields)),
  ];
}

export function toOverview(
  data: OverviewData & { listed: string[]; blocks?: BlockEntry[] },
  def: RatePolicy | null,
  schema: GraphQLSchema,
  extra?: ExtraPolicies,
  effective: Effective = asConfigured,
): RateLimitOverview {
  const policies = new Set<string>();
  for (const m of data.minutes) for (const p of Object.keys(m.byPolicy)) policies.add(p);
  const rejections = [...policies].sort().map((policy) => {
    const perMinute = data.minutes.map((m) => ({ at: new Date(m.at), count: m.byPolicy[policy] ?? 0 }));
    return { policy, total: perMinute.reduce((n, x) => n + x.count, 0), perMinute };
  });
  return {
    topConsumers: data.topConsumers,
    topRejected: data.topRefused,
    rejections,
    blocked: [
      // As many block-list entries as refused clients at most: the view stays bounded however long RATE_LIMIT_BLOCK is.
      ...data.listed.slice(0, MAX_BLOCKED_SHOWN).map((identity) => ({ policy: 'blocklist', identity, until: null })),
      // Admins' blocks (blockClient): at most MAX_BLOCKED_SHOWN are read.
      ...(data.blocks ?? []).map((b) => ({ policy: 'blocklist', identity: b.identity, until: new Date(b.until) })),
      ...data.blocked.filter((b) => b.policy !== 'blocklist').map((b) => ({ policy: b.policy, identity: b.identity, until: new Date(b.until) })),
    ],
    policies: policiesInSchema(schema, def, extra, effective),
    enabled: def !== null,
  };
}
