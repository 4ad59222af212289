/**
 * Waiting for what another instance must see "within a second": a change announced over pub/sub
 * reaches the other instances' caches in milliseconds (across a Redis Cluster the message also
 * crosses the cluster bus), so a test polls instead of reading once.
 */

/** Polls `check` every few ms until it holds; resolves with how long that took, or rejects after `ms`. */
export async function within(ms: number, check: () => boolean | Promise<boolean>, everyMs = 5): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`did not hold within ${ms} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return Date.now() - t0;
}
