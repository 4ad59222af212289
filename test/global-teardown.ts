import type { EmbeddedRedis } from '../src/redis/embedded';

export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as Record<string, unknown>).__TEST_REDIS__ as EmbeddedRedis | undefined;
  await redis?.stop();
}
