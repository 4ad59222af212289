/**
 * The typed list of Lua scripts against the files on disk: the same set, the number of keys in the
 * name matching the list and the KEYS the script uses; runScript refusing another number of keys;
 * includes expanded once each, relative to the including file, a missing one or a cycle refused.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RedisClient } from '../../src/redis/connection';
import { expandLua } from '../../src/redis/lua-includes';
import { LUA_DIR, loadScripts, runScript, SCRIPTS, scriptFile, type ScriptName } from '../../src/redis/scripts';

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

describe('Lua includes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lua-includes-'));
    mkdirSync(path.join(dir, 'includes'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string): string => {
    writeFileSync(path.join(dir, file), text);
    return path.join(dir, file);
  };

  it('expands every script, each include once, and every include is used', () => {
    expect(loadScripts).not.toThrow();
    const used = new Set<string>();
    for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
      const lua = expandLua(path.join(LUA_DIR, scriptFile(name)));
      expect(lua).not.toContain('--- @include');
      const defined = [...lua.matchAll(/^local function (\w+)/gm)].map((m) => m[1]);
      expect({ name, defined }).toEqual({ name, defined: [...new Set(defined)] });
      for (const m of readFileSync(path.join(LUA_DIR, scriptFile(name)), 'utf8').matchAll(/^--- @include "includes\/(\w+)"$/gm)) used.add(m[1]);
    }
    const includes = readdirSync(path.join(LUA_DIR, 'includes')).map((f) => f.replace(/\.lua$/, ''));
    const nested = includes.flatMap((f) =>
      [...readFileSync(path.join(LUA_DIR, 'includes', `${f}.lua`), 'utf8').matchAll(/^--- @include "(\w+)"$/gm)].map((m) => m[1]),
    );
    expect(includes.filter((f) => !used.has(f) && !nested.includes(f))).toEqual([]);
  });

  it('puts the text in place of the line, nested includes relative to their file, each once', () => {
    write('includes/a.lua', '--- @include "b"\nlocal function a() return b() end\n');
    write('includes/b.lua', 'local function b() return 1 end');
    const main = write('main-1.lua', '-- KEYS[1]\n--- @include "includes/a"\n--- @include "includes/b.lua"\nreturn a()\n');
    expect(expandLua(main)).toBe('-- KEYS[1]\nlocal function b() return 1 end\nlocal function a() return b() end\nreturn a()\n');
  });

  it('refuses a missing include', () => {
    const main = write('main-1.lua', '--- @include "includes/nope"\nreturn 1\n');
    expect(() => expandLua(main)).toThrow(/main-1\.lua: included "includes\/nope" not found/);
  });

  it('refuses a cycle', () => {
    write('includes/a.lua', '--- @include "b"\n');
    write('includes/b.lua', '--- @include "a"\n');
    const main = write('main-1.lua', '--- @include "includes/a"\nreturn 1\n');
    expect(() => expandLua(main)).toThrow('Lua include cycle: ');
    expect(() => expandLua(main)).toThrow(/includes\/a\.lua -> includes\/b\.lua -> includes\/a\.lua$/);
  });
});
