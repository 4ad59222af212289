import type { EmbeddedRedis } from '../src/redis/embedded';
import type { TestCluster } from './helpers/cluster';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  await (g.__TEST_CLUSTER__ as TestCluster | undefined)?.stop();
  await (g.__TEST_REDIS__ as EmbeddedRedis | undefined)?.stop();
}
