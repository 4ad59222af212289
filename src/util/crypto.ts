/** Token, id and password primitives. */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url. */
export const newToken = (): string => randomBytes(32).toString('base64url');

/** What every API key starts with, so that secret scanners (and the gateway) can tell one at a glance. */
export const API_KEY_PREFIX = 'gwk_';
/** `gwk_` and 256 bits from the CSPRNG, base64url: 47 characters. */
export const newApiKey = (): string => `${API_KEY_PREFIX}${newToken()}`;
export const isApiKey = (token: string): boolean => token.startsWith(API_KEY_PREFIX);

/**
 * Encrypts `plain` (AES-256-GCM) under a fresh random key: the box (iv, tag, ciphertext; base64url) and the key
 * (base64url) are meant to be kept apart, so that neither alone gives `plain` back.
 */
export function sealSecret(plain: string): { box: string; key: string } {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return { box: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url'), key: key.toString('base64url') };
}

/** {@link sealSecret}'s `plain` back; null when the box or key is not a pair (tampered, truncated, another key). */
export function openSecret(box: string, key: string): string | null {
  try {
    const raw = Buffer.from(box, 'base64url');
    const k = Buffer.from(key, 'base64url');
    if (raw.length < 28 || k.length !== 32) return null;
    const decipher = createDecipheriv('aes-256-gcm', k, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
/** 128-bit public identifier, hex. */
export const newId = (): string => randomBytes(16).toString('hex');
export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

const R = 8;
const P = 1;
const KEYLEN = 32;

function derive(password: string, salt: Buffer, N: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEYLEN, { N, r: R, p: P, maxmem: 256 * N * R }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** scrypt (memory-hard): `scrypt$N$r$p$salt$hash`, 16-byte salt, 32-byte key. */
export async function hashPassword(password: string, N: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Constant-time check of a password against {@link hashPassword}'s output. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, , , salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), Number(n));
  return key.length === expected.length && timingSafeEqual(key, expected);
}
