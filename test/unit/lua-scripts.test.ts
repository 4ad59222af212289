/**
 * The typed list of Lua scripts against the files on disk: the same set, the number of keys in the
 * name matching the list and the KEYS the script uses; runScript refusing another number of keys.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisClient } from '../../src/redis/connection';
import { LUA_DIR, runScript, SCRIPTS, type ScriptName } from '../../src/redis/scripts';

const files = readdirSync(LUA_DIR, { withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => e.name);

/** The highest KEYS[i] a file names, in its header or its code. */
const highestKey = (file: string): number =>
  Math.max(0, ...[...readFileSync(path.join(LUA_DIR, file), 'utf8').matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));

describe('Lua scripts', () => {
  it('are the files on disk, each named <commandName>-<numberOfKeys>.lua', () => {
    const listed = Object.entries(SCRIPTS).map(([name, keys]) => `${name}-${keys}.lua`);
    expect([...files].sort()).toEqual(listed.sort());
  });

  it('use as many keys as their name says', () => {
    for (const [name, keys] of Object.entries(SCRIPTS)) {
      if (keys !== 'n') expect({ name, keys: highestKey(`${name}-${keys}.lua`) }).toEqual({ name, keys });
    }
  });

  it('refuses a call with another number of keys than the script takes', async () => {
    const client = {} as RedisClient;
    await expect(runScript(client, 'cartRead', ['a', 'b'], [1])).rejects.toThrow('Lua script cartRead takes 3 keys, got 2');
  });

  it('does not compile a misspelt name', () => {
    // @ts-expect-error 'cartUpdat' is not a ScriptName
    const name: ScriptName = 'cartUpdat';
    expect(name in SCRIPTS).toBe(false);
  });
});
