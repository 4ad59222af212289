/**
 * The audit log: every admin action appends who did what to what, and when, to one Redis
 * stream trimmed to about AUDIT_LOG_MAXLEN entries (default 10000). Appended after the action
 * succeeded; an append that fails is logged at error level with the whole entry (the action
 * stands), so an operator can see that the log missed one.
 */
import type { Keys } from '../../redis/keys';
import type { RedisClient } from '../../redis/connection';
import { actorName, type RequestContext } from '../context';

export interface AuditEntry {
  /** When (ms since epoch, the stream entry's time). */
  at: number;
  /** Who: `user:<id>` for a person, `key:<id>` for an API key. */
  actor: string;
  /** What, as a verb phrase: `upsertProduct`, `stopExperiment`, ... */
  action: string;
  /** To what: a product id, an experiment key, a job id, a user id. */
  target: string;
}

/** Longest stored action and target: they come from the API, so they are bounded. */
const MAX_FIELD = 200;

export class AuditService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly maxLen: number,
  ) {}

  /** Appends an entry for the caller; never throws (see the class comment). */
  async record(ctx: RequestContext, action: string, target: string): Promise<void> {
    const actor = await ctx.actor().catch(() => null);
    const entry = { actor: actor ? actorName(actor) : 'anonymous', action: action.slice(0, MAX_FIELD), target: target.slice(0, MAX_FIELD) };
    try {
      await this.redis.xadd(this.keys.auditLog(), 'MAXLEN', '~', this.maxLen, '*', 'actor', entry.actor, 'action', entry.action, 'target', entry.target);
    } catch (err) {
      ctx.log.error({ err: (err as Error).message, audit: entry }, 'could not append to the audit log');
    }
  }

  /** The newest `limit` entries, newest first. */
  async recent(limit: number): Promise<AuditEntry[]> {
    const rows = await this.redis.xrevrange(this.keys.auditLog(), '+', '-', 'COUNT', limit);
    return rows.map(([id, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
      return { at: Number(id.split('-')[0]), actor: f.actor ?? '', action: f.action ?? '', target: f.target ?? '' };
    });
  }
}
