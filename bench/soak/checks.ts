/** What must hold once the load is over: every event reached every subscriber, every order was processed. */
import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import { PREFIX } from './gateway';
import type { SoakOptions } from './options';
import { Q } from './queries';
import { sortedOf } from './recorder';
import { post, type Data } from './requests';
import type { Subscribers } from './subscribers';
import type { Workload } from './workload';

export interface Deliveries {
  /** Events tracked successfully x subscribers. */
  expectedEvents: number;
  gotEvents: number;
  missing: number;
  extra: number;
  /** liveStats pushes: the fewest one subscriber got, and all of them. */
  liveMin: number;
  liveTotal: number;
  /** Delivery latencies of analyticsEvents (ms), sorted. */
  eventLatency: Float64Array;
}

/** Waits for the last events to arrive, records what went missing or came twice, and closes the subscribers. */
export async function checkDeliveries(opts: SoakOptions, w: Workload, subs: Subscribers): Promise<Deliveries> {
  const rec = w.rec;
  // Let the last events reach every subscriber: until all arrived or nothing arrived for 3 s (at most 30 s).
  // Each subscriber must see every event tracked successfully, and at most those plus the failed calls (which may have been published).
  const expectedEvents = w.tracked * opts.subscribers;
  const drainBy = Date.now() + 30_000;
  while (subs.events.some((n) => n < w.tracked) && Date.now() < drainBy && Date.now() - subs.lastArrival < 3000) await sleep(200);
  const gotEvents = subs.sum(subs.events);
  const missing = subs.events.reduce((a, n) => a + Math.max(0, w.tracked - n), 0);
  const extra = subs.events.reduce((a, n) => a + Math.max(0, n - w.tracked - w.trackUnknown), 0);
  if (missing > 0) rec.fail('analyticsEvents', 'EVENTS_MISSING', `${missing} of ${expectedEvents} deliveries never arrived`, false);
  if (extra > 0) rec.fail('analyticsEvents', 'EVENTS_DUPLICATED', `${extra} deliveries beyond the events tracked (failed calls included)`, false);
  const liveMin = Math.min(...subs.live);
  const liveTotal = subs.sum(subs.live);
  const eventLatency = sortedOf(subs.latencies);
  await subs.close();
  return { expectedEvents, gotEvents, missing, extra, liveMin, liveTotal, eventLatency };
}

export interface Orders {
  /** The queue's counts once drained (or after 60 s). */
  queue: Data;
  /** Orders in Redis by status, and their ids. */
  statuses: Record<string, number>;
  stored: Set<string>;
}

/** Waits for the worker to drain the queue, then records failed jobs and orders not completed or missing. */
export async function checkOrders(url: string, redis: Redis, w: Workload): Promise<Orders> {
  const rec = w.rec;
  // Every order must be processed by the worker: wait for the queue to empty, then read every order's status.
  let queue: Data;
  const queueBy = Date.now() + 60_000;
  do {
    queue = (await post(url, Q.queueStats, {}, w.adminToken)).queueStats;
    if (queue.waiting + queue.active + queue.delayed === 0) break;
    await sleep(500);
  } while (Date.now() < queueBy);
  if (queue.failed > 0) rec.fail('order.process', 'JOB_FAILED', `${queue.failed} jobs dead-lettered`, false);
  if (queue.waiting + queue.active + queue.delayed > 0) rec.fail('order.process', 'JOBS_NOT_DRAINED', `queue after 60 s: ${JSON.stringify(queue)}`, false);
  // Every order in Redis, including those of checkouts whose answer the client never saw.
  const statuses: Record<string, number> = {};
  const stored = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}:order:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      stored.add(key.slice(key.lastIndexOf(':') + 1));
      const status = (await redis.hget(key, 'status')) ?? 'UNREADABLE';
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  } while (cursor !== '0');
  const notDone = stored.size - (statuses.COMPLETED ?? 0);
  if (notDone > 0) rec.fail('order.process', 'ORDER_NOT_COMPLETED', `${notDone} orders not COMPLETED: ${JSON.stringify(statuses)}`, false);
  const lost = [...w.orderIds].filter((id) => !stored.has(id)).length;
  if (lost > 0) rec.fail('checkout', 'ORDER_MISSING', `${lost} orders answered to the client are not in Redis`, false);
  return { queue, statuses, stored };
}
