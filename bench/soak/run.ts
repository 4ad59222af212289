/**
 * One soak run: a private redis-server and the gateway in its own process, the actors and the
 * subscribers set up, the load, the checks once it is over, and the report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { startRedisServer } from '../../src/redis/embedded';
import { forkServer, type ChildServer } from '../child';
import { census } from './census';
import { checkDeliveries, checkOrders } from './checks';
import { runLoad } from './load';
import type { SoakOptions } from './options';
import { Q } from './queries';
import { report, type SoakResult } from './report';
import { metricsErrors, post } from './requests';
import { setUp } from './setup';
import { Subscribers } from './subscribers';

export async function runSoak(opts: SoakOptions, log: (line: string) => void = console.log): Promise<SoakResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-soak-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  let gw: ChildServer | undefined;
  let subs: Subscribers | undefined;
  try {
    gw = await forkServer('soak', [server.url], 'gateway', opts.gc ? ['--expose-gc'] : []);
    const gateway = gw;
    log(
      `soak: ${opts.seconds} s at ${opts.rate} operations/s (open loop), ${opts.subscribers} WebSocket subscribers; gateway pid ${gateway.child.pid} (WORKER=1, rate limits off), private redis-server ${server.url}`,
    );
    const w = await setUp(gateway.url, log);

    subs = new Subscribers(opts.subscribers, w.rec);
    await subs.open(gateway.url, w.adminToken);
    const readyBy = Date.now() + 60_000;
    while (!subs.ready() && Date.now() < readyBy) {
      await post(gateway.url, Q.pageView, { i: { page: '/soak/probe', visitorId: 'probe' } });
      await sleep(300);
    }
    if (!subs.ready()) throw new Error(`only ${subs.events.filter((x) => x > 0).length} of ${opts.subscribers} subscribers received events within 60 s`);
    await sleep(2000);
    subs.startCounting();
    log(`subscribers: ${opts.subscribers} sockets, each with analyticsEvents and liveStats, all receiving`);

    const startCensus = await census(redis, true);
    const metricsBefore = await metricsErrors(gateway.url);
    const load = await runLoad(opts, gateway, redis, w, subs, startCensus.keys, log);
    const deliveries = await checkDeliveries(opts, w, subs);
    const orders = await checkOrders(gateway.url, redis, w);

    const endCensus = await census(redis, true);
    const metricsAfter = await metricsErrors(gateway.url);
    const gatewayErrors: Record<string, number> = {};
    for (const [code, n] of Object.entries(metricsAfter)) if (n - (metricsBefore[code] ?? 0) > 0) gatewayErrors[code] = n - (metricsBefore[code] ?? 0);
    return report({ opts, w, load, deliveries, orders, startCensus, endCensus, gatewayErrors }, log);
  } finally {
    if (subs && !subs.closing) await subs.close().catch(() => {});
    await gw?.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
