import { hashPassword, newId, newToken, sha256, verifyPassword } from '../../src/util/crypto';

describe('tokens and ids', () => {
  test('a token is 32 random bytes in base64url (43 characters, 256 bits)', () => {
    const tokens = Array.from({ length: 1000 }, newToken);
    for (const t of tokens) {
      expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t, 'base64url')).toHaveLength(32);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  test('ids are 128-bit hex and unique', () => {
    const ids = Array.from({ length: 1000 }, newId);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('sha256 is the hex digest', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('scrypt passwords', () => {
  test('the stored form names the algorithm and parameters, with a random salt', async () => {
    const [a, b] = await Promise.all([hashPassword('correct-horse-42', 1024), hashPassword('correct-horse-42', 1024)]);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct-horse-42');
  });

  test('verifies the right password only', async () => {
    const stored = await hashPassword('correct-horse-42', 1024);
    expect(await verifyPassword('correct-horse-42', stored)).toBe(true);
    expect(await verifyPassword('correct-horse-43', stored)).toBe(false);
    expect(await verifyPassword('Correct-horse-42', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  test('the cost stored with a hash is the one used to verify it', async () => {
    const stored = await hashPassword('pw-with-digits-1', 2048);
    expect(stored.startsWith('scrypt$2048$')).toBe(true);
    expect(await verifyPassword('pw-with-digits-1', stored)).toBe(true);
  });

  test('passwords are compared in NFKC form', async () => {
    const stored = await hashPassword('caf\u00e9-password-1', 1024);
    expect(await verifyPassword('cafe\u0301-password-1', stored)).toBe(true);
  });

  test('a malformed or tampered stored value never verifies', async () => {
    const stored = await hashPassword('correct-horse-42', 1024);
    const parts = stored.split('$');
    const flipped = Buffer.from(parts[5], 'base64');
    flipped[0] ^= 1;
    for (const bad of [
      '',
      'plain',
      `bcrypt$${parts.slice(1).join('$')}`,
      [...parts.slice(0, 5), flipped.toString('base64')].join('$'),
      parts.slice(0, 5).join('$'),
    ]) {
      expect(await verifyPassword('correct-horse-42', bad)).toBe(false);
    }
  });
});
