/** Reading one variable: the checks and the error every section uses. */
import { isIP } from 'node:net';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    accepts: string,
    got: string,
  ) {
    super(`${variable}=${JSON.stringify(got)} is invalid: ${variable} accepts ${accepts}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** `<points>` per `<window>`, as RATE_LIMIT_DEFAULT and the other policies are written. */
export interface RatePolicySpec {
  points: number;
  windowMs: number;
}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `30m`, `12h`, `7d`. */
export function parseDuration(name: string, raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m || Number(m[1]) <= 0) throw new ConfigError(name, 'a positive duration such as 500ms, 30s, 30m, 12h or 7d', raw);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** A variable's value; empty counts as unset so that `VAR=` in an env file means "use the default". */
export function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

export function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  // Plain decimal digits only: Number() would also take 0x10, 1e3 or 12.0.
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  return n;
}

export function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(name, '1, 0, true or false', raw);
}

export function duration(env: Env, name: string, def: string): number {
  return parseDuration(name, str(env, name) ?? def);
}

/** A duration of at most `max`, and at least `min` when given (both as text for the message). */
export function boundedDuration(env: Env, name: string, def: string, max: string, min?: string): number {
  const ms = duration(env, name, def);
  if (ms > parseDuration(name, max)) throw new ConfigError(name, `a positive duration of at most ${max}, such as ${def}`, str(env, name) ?? '');
  if (min !== undefined && ms < parseDuration(name, min)) throw new ConfigError(name, `a duration from ${min} to ${max}, such as ${def}`, str(env, name) ?? '');
  return ms;
}

export function list(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Proxies are matched by exact address against the socket peer, so only plain IPs make sense. */
export function ipList(env: Env, name: string): string[] {
  const ips = list(env, name);
  for (const ip of ips) if (!isIP(ip)) throw new ConfigError(name, 'comma-separated IP addresses', ip);
  return ips;
}

export function hostPorts(name: string, raw: string): Array<{ host: string; port: number }> {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^(.+):(\d{1,5})$/.exec(item);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError(name, 'comma-separated host:port pairs', raw);
      return { host: m[1], port: Number(m[2]) };
    });
}

/** `<points>/<window>` such as `600/1m`, or `off`. */
export function parseRatePolicy(name: string, raw: string): RatePolicySpec | null {
  if (raw === 'off') return null;
  const m = /^(\d+)\/(.+)$/.exec(raw.trim());
  if (!m || Number(m[1]) < 1) throw new ConfigError(name, '<points>/<window> such as 600/1m, or off', raw);
  return { points: Number(m[1]), windowMs: parseDuration(name, m[2]) };
}

export const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Hides the password of a URL before it goes into a message. */
export const withoutPassword = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');
