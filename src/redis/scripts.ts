/**
 * Loads every `lua/<commandName>-<numberOfKeys>.lua` file once and registers it
 * with ioredis `defineCommand`, which runs EVALSHA and falls back to EVAL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './connection';

const LUA_DIR = path.join(__dirname, 'lua');

interface ScriptDef {
  name: string;
  numberOfKeys: number;
  lua: string;
}

let cache: ScriptDef[] | undefined;

function scripts(): ScriptDef[] {
  cache ??= readdirSync(LUA_DIR)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const m = /^(.+)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`Lua file ${file} must be named <commandName>-<numberOfKeys>.lua`);
      const name = m[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      return { name, numberOfKeys: Number(m[2]), lua: readFileSync(path.join(LUA_DIR, file), 'utf8') };
    });
  return cache;
}

/** Registers all scripts on the client; call once per client. */
export function defineScripts(client: RedisClient): void {
  for (const s of scripts()) client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
}

type ScriptFn = (...args: Array<string | number>) => Promise<unknown>;

/** Calls a script registered by {@link defineScripts}. */
export function runScript<T>(client: RedisClient, name: string, keys: string[], args: Array<string | number>): Promise<T> {
  const fn = (client as unknown as Record<string, ScriptFn>)[name];
  if (typeof fn !== 'function') throw new Error(`Lua script ${name} is not defined`);
  return fn.call(client, ...keys, ...args) as Promise<T>;
}
