/** The audit log of admin actions. */
import { int, type Env } from './parse';

export interface AuditConfig {
  /** AUDIT_LOG_MAXLEN: approximate number of admin actions the audit log keeps. Default 10000. */
  readonly maxLen: number;
}

export function readAudit(env: Env): AuditConfig {
  return { maxLen: int(env, 'AUDIT_LOG_MAXLEN', 10_000, 100, 10_000_000) };
}
