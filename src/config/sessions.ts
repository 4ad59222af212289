/** Accounts and sessions: lifetimes, the per-user cap, the hijack check, password hashing, the first admin, password resets, API keys. */
import { ConfigError, bool, boundedDuration, duration, int, str, type Env } from './parse';

export interface SessionsConfig {
  /** SESSION_IDLE_TTL: sliding idle lifetime. Default 30m. */
  readonly idleTtlMs: number;
  /** The idle deadline moves only once it is this far behind (a tenth of the idle lifetime, at most 1m): see {@link sessionRefreshStep}. */
  readonly refreshStepMs: number;
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
  /** Password reset tokens (requestPasswordReset / resetPassword). */
  readonly passwordReset: PasswordResetSettings;
  /** API_KEYS_MAX: API keys that may exist at once (createApiKey refuses past it). Default 100. */
  readonly apiKeysMax: number;
}

export interface PasswordResetSettings {
  /** PASSWORD_RESET_TTL: how long an emailed token works (at most 24h). Default 30m. */
  readonly ttlMs: number;
  /** PASSWORD_RESET_PER_USER: live tokens per user; a new one past it ends the oldest. Default 3. */
  readonly perUser: number;
  /**
   * PASSWORD_RESET_URL: an http(s) URL with `{token}` in it, e.g. `https://shop.example.com/reset?token={token}`; the
   * email then carries that link. Default none: the email carries the token alone.
   */
  readonly url: string | null;
}

/** Where the token goes in PASSWORD_RESET_URL. */
export const RESET_URL_TOKEN = '{token}';

function resetUrl(env: Env): string | null {
  const raw = str(env, 'PASSWORD_RESET_URL');
  if (raw === undefined) return null;
  let ok: boolean;
  try {
    const u = new URL(raw.replace(RESET_URL_TOKEN, 'x'));
    ok = (u.protocol === 'https:' || u.protocol === 'http:') && raw.split(RESET_URL_TOKEN).length === 2 && !/\s/.test(raw);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new ConfigError(
      'PASSWORD_RESET_URL',
      `an http(s) URL holding ${RESET_URL_TOKEN} once, such as https://shop.example.com/reset?token=${RESET_URL_TOKEN}`,
      raw,
    );
  return raw;
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

/**
 * How far a session's stored idle deadline may lag behind its last request: a tenth of the idle
 * lifetime, at most a minute. Writing the deadline on every request would cost Redis a write per
 * request for a move nobody could tell from this one; with the step, a session lives between
 * `idle - step` and `idle` after its last request (27 to 30 minutes at the default 30m).
 */
export const sessionRefreshStep = (idleTtlMs: number): number => Math.min(Math.floor(idleTtlMs / 10), 60_000);

export function readSessions(env: Env): SessionsConfig {
  const scryptN = int(env, 'SCRYPT_N', 1 << 15, 1 << 10, 1 << 20);
  const idleTtlMs = duration(env, 'SESSION_IDLE_TTL', '30m');
  if ((scryptN & (scryptN - 1)) !== 0) throw new ConfigError('SCRYPT_N', 'a power of two from 1024 to 1048576', String(scryptN));
  return {
    idleTtlMs,
    refreshStepMs: sessionRefreshStep(idleTtlMs),
    maxAgeMs: duration(env, 'SESSION_MAX_AGE', '7d'),
    perUser: int(env, 'SESSIONS_PER_USER', 10, 1, 1000),
    uaCheck: bool(env, 'SESSION_UA_CHECK', true),
    scryptN,
    admin: admin(env),
    passwordReset: {
      ttlMs: boundedDuration(env, 'PASSWORD_RESET_TTL', '30m', '24h'),
      perUser: int(env, 'PASSWORD_RESET_PER_USER', 3, 1, 20),
      url: resetUrl(env),
    },
    apiKeysMax: int(env, 'API_KEYS_MAX', 100, 1, 10_000),
  };
}
