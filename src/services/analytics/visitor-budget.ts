/**
 * The daily budget of new visitor keys. Anyone may track under any visitor id, so each new
 * visitor's journey and experiment-exposure record is charged to the caller: the signed-in
 * user, else the client address (an IPv6 address by its /64, the block one host usually
 * holds). A script that would create such a key checks and counts the caller's counter for the
 * UTC day in the same step; past `ANALYTICS_VISITOR_KEYS_PER_DAY` (default 1000) it writes no
 * new key but still answers. An API key is charged as `key:<id>`. Admins and ADMIN API keys
 * (trusted server-side reporters) are exempt. Knowing who is
 * an admin costs a read of the user, so a signed-in caller's script first runs in `ask` mode:
 * it changes nothing when the budget is spent and says so, and only then is the user read.
 */
import { isIPv6 } from 'node:net';
import type { Config } from '../../config';
import { isApiKey } from '../../util/crypto';
import type { RequestContext } from '../context';
import type { Keys } from '../../redis/keys';
import type { VisitorService } from './visitor.service';

const DAY_MS = 86_400_000;
/** The counter outlives its day, never by more than another day. */
const COUNTER_TTL_SEC = 2 * 86_400;

/** `exempt`: admin; `enforce`: past the budget no new key; `ask`: past it, change nothing and reply so. */
export type BudgetMode = 'exempt' | 'enforce' | 'ask';

export interface Budget {
  /** The caller's counter for today: one more KEYS entry of the script. */
  key: string;
  /** ARGV of the script: mode, keys allowed per day, counter TTL (s). */
  args: [BudgetMode, number, number];
}

/** The address a budget is kept for: IPv4 as is, IPv6 cut to its /64 (a host can hold them all). */
export function addressBlock(ip: string): string {
  const bare = ip.replace(/%.*$/, '');
  if (!isIPv6(bare)) return bare;
  const [head, tail = ''] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = bare.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) sits in the low 64 bits: it does not change the /64.
  const groups = bare.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** Decides, per request, whose counter a new visitor key is charged to. */
export class VisitorBudget {
  constructor(
    private readonly keys: Keys,
    private readonly visitors: VisitorService,
    private readonly config: Pick<Config, 'analytics'>,
  ) {}

  /**
   * Runs `script` with the caller's budget; when it answers `asked` (a signed-in caller past the
   * budget), looks the user up and runs it again as admin (`exempt`) or not (`enforce`).
   */
  async run<R>(ctx: RequestContext, script: (budget: Budget) => Promise<R>, asked: (reply: R) => boolean): Promise<R> {
    // An API key is checked with its roles in one round trip: an ADMIN key (a server-side reporter) is exempt.
    const apiKey = ctx.token && isApiKey(ctx.token) ? await ctx.apiKey() : null;
    if (apiKey) {
      const key = this.keys.anBudget(Math.floor(Date.now() / DAY_MS), await this.visitors.callerKey(`key:${apiKey.id}`));
      return script(this.budget(key, apiKey.roles.includes('ADMIN') ? 'exempt' : 'enforce'));
    }
    const session = ctx.token ? await ctx.session() : null;
    const identity = session?.userId ? `user:${session.userId}` : `ip:${addressBlock(ctx.client.ip ?? '')}`;
    const key = this.keys.anBudget(Math.floor(Date.now() / DAY_MS), await this.visitors.callerKey(identity));
    const first = await script(this.budget(key, session?.userId ? 'ask' : 'enforce'));
    if (!asked(first)) return first;
    const user = await ctx.user();
    return script(this.budget(key, user?.roles.includes('ADMIN') ? 'exempt' : 'enforce'));
  }

  private budget(key: string, mode: BudgetMode): Budget {
    return { key, args: [mode, this.config.analytics.visitorKeysPerDay, COUNTER_TTL_SEC] };
  }
}
