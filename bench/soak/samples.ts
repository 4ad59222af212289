/** Memory samples of the gateway and of Redis every SAMPLE_MS, and the slope of their growth. */
import type Redis from 'ioredis';
import type { ChildServer } from '../child';
import { census } from './census';
import type { GatewayMemory } from './gateway';

export const SAMPLE_MS = 10_000;

export interface Sample {
  /** Seconds since the load started. */
  t: number;
  gateway: GatewayMemory;
  usedMemory: number;
  dbsize: number;
  retainedBytes: number;
  redisCpuSeconds: number;
}

export async function redisMemory(redis: Redis): Promise<{ usedMemory: number; dbsize: number; cpu: number }> {
  const [mem, cpu, dbsize] = await Promise.all([redis.info('memory'), redis.info('cpu'), redis.dbsize()]);
  const num = (text: string, field: string): number => Number(new RegExp(`^${field}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return { usedMemory: num(mem, 'used_memory'), dbsize, cpu: num(cpu, 'used_cpu_user') + num(cpu, 'used_cpu_sys') };
}

export async function takeSample(gw: ChildServer, redis: Redis, t: number): Promise<Sample> {
  const gateway = await gw.ask<GatewayMemory>('mem');
  const r = await redisMemory(redis);
  const c = await census(redis, false);
  return { t, gateway, usedMemory: r.usedMemory, dbsize: r.dbsize, retainedBytes: c.retainedBytes, redisCpuSeconds: r.cpu };
}

/** Least-squares slope of y over x (minutes): units per minute. */
export function slopePerMinute(points: Array<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
