/** Redis command counts from `INFO commandstats`, for commands-per-request figures. */
import type Redis from 'ioredis';

export type CommandCounts = Record<string, number>;

/** Calls per command since the server started. */
export async function commandStats(redis: Redis): Promise<CommandCounts> {
  const text = await redis.info('commandstats');
  const out: CommandCounts = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** What ran between two snapshots, without the INFO calls that took them. */
export function commandDelta(before: CommandCounts, after: CommandCounts): CommandCounts {
  const out: CommandCounts = {};
  for (const [cmd, calls] of Object.entries(after)) {
    if (cmd === 'info') continue;
    const d = calls - (before[cmd] ?? 0);
    if (d > 0) out[cmd] = d;
  }
  return out;
}

/** CPU seconds the server has used since it started (user + system, `INFO cpu`). */
export async function serverCpuSeconds(redis: Redis): Promise<number> {
  const text = await redis.info('cpu');
  const read = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  return read('used_cpu_user') + read('used_cpu_sys');
}
