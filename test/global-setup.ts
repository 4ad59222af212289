/** Starts one redis-server on a free port for the whole run; files isolate themselves by key prefix. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedisServer } from '../src/redis/embedded';
import { startCluster } from './helpers/cluster';

export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-test-redis-'));
  const redis = await startRedisServer(dir);
  process.env.TEST_REDIS_URL = redis.url;
  (globalThis as Record<string, unknown>).__TEST_REDIS__ = redis;
  // TEST_REDIS_MODE=cluster: one shared cluster for the run as well (see test/helpers/redis.ts).
  if (process.env.TEST_REDIS_MODE === 'cluster') {
    const cluster = await startCluster();
    process.env.TEST_REDIS_CLUSTER_NODES = cluster.seeds;
    (globalThis as Record<string, unknown>).__TEST_CLUSTER__ = cluster;
  }
}
