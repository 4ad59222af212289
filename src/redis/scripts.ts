/**
 * Loads every `lua/<commandName>-<numberOfKeys>.lua` file once; {@link runScript}
 * runs it with EVALSHA and falls back to EVAL.
 * `<commandName>-n.lua` takes any number of keys.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './connection';

const LUA_DIR = path.join(__dirname, 'lua');

interface ScriptDef {
  name: string;
  /** undefined: variadic (`-n.lua`). */
  numberOfKeys: number | undefined;
  lua: string;
}

let cache: ScriptDef[] | undefined;

function scripts(): ScriptDef[] {
  cache ??= readdirSync(LUA_DIR)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const m = /^(.+)-(\d+|n)\.lua$/.exec(file);
      if (!m) throw new Error(`Lua file ${file} must be named <commandName>-<numberOfKeys>.lua`);
      return { name: m[1], numberOfKeys: m[2] === 'n' ? undefined : Number(m[2]), lua: readFileSync(path.join(LUA_DIR, file), 'utf8') };
    });
  return cache;
}

/** The script files by command name, with their SHA1 for EVALSHA. */
function byName(): Map<string, ScriptDef & { sha: string }> {
  byNameCache ??= new Map(scripts().map((d) => [d.name, { ...d, sha: createHash('sha1').update(d.lua).digest('hex') }]));
  return byNameCache;
}
let byNameCache: Map<string, ScriptDef & { sha: string }> | undefined;

/**
 * Reads and checks every script file; called once at start, so a bad file stops start-up.
 * Scripts are not registered with ioredis `defineCommand`: ioredis copies every defined command onto
 * each pipeline it creates, and auto-pipelining creates one per batch of commands, so with ~100
 * commands defined (ours and BullMQ's) that copy cost ~50 µs per batch (README.md).
 */
export function loadScripts(): void {
  byName();
}

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');

/**
 * Runs a script with EVALSHA, falling back to EVAL (which caches it in Redis) when Redis does not know
 * it yet, as ioredis's own defined commands do. EVALSHA names its keys, so Cluster routing and
 * auto-pipelining go by the first key, for variadic scripts too.
 */
export function runScript<T>(client: RedisClient, name: string, keys: string[], args: Array<string | number>): Promise<T> {
  const s = byName().get(name);
  if (!s) return Promise.reject(new Error(`Lua script ${name} is not defined`));
  return client.evalsha(s.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
    if (!isNoScript(err)) throw err;
    return client.eval(s.lua, keys.length, ...keys, ...args);
  }) as Promise<T>;
}
