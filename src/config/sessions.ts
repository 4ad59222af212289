/** Accounts and sessions: lifetimes, the per-user cap, the hijack check, password hashing, the first admin. */
import { ConfigError, bool, duration, int, str, type Env } from './parse';

export interface SessionsConfig {
  /** SESSION_IDLE_TTL: sliding idle lifetime. Default 30m. */
  readonly idleTtlMs: number;
  /** SESSION_MAX_AGE: absolute lifetime. Default 7d. */
  readonly maxAgeMs: number;
  /** SESSIONS_PER_USER: the oldest is evicted past it. Default 10. */
  readonly perUser: number;
  /** SESSION_UA_CHECK: a session used from another user-agent family is revoked. Default on. */
  readonly uaCheck: boolean;
  /** SCRYPT_N: scrypt cost N (power of two). Default 2^15 with r=8, p=1: 32 MiB per hash. */
  readonly scryptN: number;
  /** ADMIN_EMAIL + ADMIN_PASSWORD: an ADMIN account created at start when absent. Default none. */
  readonly admin: { readonly email: string; readonly password: string } | null;
}

function admin(env: Env): SessionsConfig['admin'] {
  const email = str(env, 'ADMIN_EMAIL') ?? '';
  // Passwords are taken verbatim: surrounding spaces may be part of them.
  const password = env.ADMIN_PASSWORD ?? '';
  if (Boolean(email) !== Boolean(password)) {
    throw new ConfigError(email ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL', 'a value whenever the other of ADMIN_EMAIL/ADMIN_PASSWORD is set', '');
  }
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new ConfigError('ADMIN_EMAIL', 'an email address', email);
  if (password && password.length < 10) throw new ConfigError('ADMIN_PASSWORD', 'at least 10 characters', '(hidden)');
  return email ? { email, password } : null;
}

export function readSessions(env: Env): SessionsConfig {
  const scryptN = int(env, 'SCRYPT_N', 1 << 15, 1 << 10, 1 << 20);
  if ((scryptN & (scryptN - 1)) !== 0) throw new ConfigError('SCRYPT_N', 'a power of two from 1024 to 1048576', String(scryptN));
  return {
    idleTtlMs: duration(env, 'SESSION_IDLE_TTL', '30m'),
    maxAgeMs: duration(env, 'SESSION_MAX_AGE', '7d'),
    perUser: int(env, 'SESSIONS_PER_USER', 10, 1, 1000),
    uaCheck: bool(env, 'SESSION_UA_CHECK', true),
    scryptN,
    admin: admin(env),
  };
}
