/**
 * The Lua scripts: each is `lua/<commandName>-<numberOfKeys>.lua`, so the name a call site passes to
 * {@link runScript} greps to its file. {@link SCRIPTS} lists them; a name that is not there does
 * not compile. Blocks shared by several scripts are in `lua/includes/`, expanded into each script
 * when it is loaded (`--- @include "includes/<name>"`, see lua-includes.ts). Loaded once;
 * {@link runScript} runs one with EVALSHA and falls back to EVAL.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { RedisClient } from './connection';
import { expandLua } from './lua-includes';

/** Command name -> number of keys (`'n'`: any number, the file is `<commandName>-n.lua`). */
export const SCRIPTS = {
  apiKeyAdd: 1,
  apiKeyTouch: 1,
  assignVariant: 7,
  cacheInvalidate: 'n',
  cacheRead: 2,
  cacheWrite: 'n',
  cartMerge: 4,
  cartRead: 3,
  cartUpdate: 3,
  catalogRead: 4,
  checkout: 13,
  createExperiment: 3,
  deleteFlag: 2,
  eventsRead: 1,
  failedJobsPurge: 'n',
  failedJobsRetry: 'n',
  jobCancel: 7,
  jobOwners: 'n',
  jobQuotaReserve: 'n',
  jobQuotaSettle: 'n',
  jobSnapshot: 8,
  liveStatsTick: 2,
  orderAdvance: 7,
  orderCancel: 7,
  outboxDeliver: 2,
  passwordResetIssue: 1,
  productUpsert: 5,
  rateLimit: 'n',
  rateLimitBatch: 'n',
  rateLimitBlockList: 1,
  recommend: 5,
  registryHeartbeat: 3,
  registryLeave: 3,
  registryList: 3,
  sessionIndexAdd: 2,
  sessionIndexRemove: 2,
  sessionTouch: 1,
  setFlag: 2,
  signInSucceeded: 'n',
  stockAdjust: 4,
  stopExperiment: 2,
  trackConversion: 11,
  trackPageViews: 'n',
  userSetRoles: 1,
} as const satisfies Record<string, number | 'n'>;

export type ScriptName = keyof typeof SCRIPTS;

export const LUA_DIR = path.join(__dirname, 'lua');

/** The file a script is read from. */
export const scriptFile = (name: ScriptName): string => `${name}-${SCRIPTS[name]}.lua`;

interface Script {
  /** The file's text with its includes expanded: what Redis runs. */
  lua: string;
  /** SHA1 of `lua`, for EVALSHA. */
  sha: string;
}

let loaded: Record<ScriptName, Script> | undefined;

function scripts(): Record<ScriptName, Script> {
  if (loaded) return loaded;
  const out = {} as Record<ScriptName, Script>;
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    const lua = expandLua(path.join(LUA_DIR, scriptFile(name)));
    out[name] = { lua, sha: createHash('sha1').update(lua).digest('hex') };
  }
  return (loaded = out);
}

/**
 * Reads every script file and expands its includes; called once at start, so a missing file or
 * include, or an include cycle, stops start-up.
 * Scripts are not registered with ioredis `defineCommand`: ioredis copies every defined command onto
 * each pipeline it creates, and auto-pipelining creates one per batch of commands, so with ~100
 * commands defined (ours and BullMQ's) that copy cost ~50 µs per batch (docs/performance.md, "What changed, and what each was worth").
 */
export function loadScripts(): void {
  scripts();
}

const isNoScript = (err: unknown): boolean => err instanceof Error && err.message.startsWith('NOSCRIPT');

/**
 * Runs a script with EVALSHA, falling back to EVAL (which caches it in Redis) when Redis does not know
 * it yet, as ioredis's own defined commands do. EVALSHA names its keys, so Cluster routing and
 * auto-pipelining go by the first key, for variadic scripts too. A script of a fixed number of keys
 * refuses any other number: its KEYS[n] would be nil, or keys past them unseen by the routing check.
 */
export function runScript<T>(client: RedisClient, name: ScriptName, keys: string[], args: Array<string | number>): Promise<T> {
  const want = SCRIPTS[name];
  if (want !== 'n' && keys.length !== want) return Promise.reject(new Error(`Lua script ${name} takes ${want} keys, got ${keys.length}`));
  const s = scripts()[name];
  return client.evalsha(s.sha, keys.length, ...keys, ...args).catch((err: unknown) => {
    if (!isNoScript(err)) throw err;
    return client.eval(s.lua, keys.length, ...keys, ...args);
  }) as Promise<T>;
}
