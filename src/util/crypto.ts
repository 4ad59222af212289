/** Token, id and password primitives. */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url. */
export const newToken = (): string => randomBytes(32).toString('base64url');
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
