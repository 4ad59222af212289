#!/usr/bin/env node
/**
 * A service that consumes the gateway's domain event streams with a consumer group of its own.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 KEY_PREFIX=gw GROUP=billing node consumer.js
 *
 * For each stream (one blocking connection each, so it works on a Redis Cluster too, where the
 * streams live in different slots):
 *   1. creates the group if it does not exist yet (from START: `$` new events only, `0` everything held);
 *   2. handles this consumer's own pending entries first (taken before a crash, never acknowledged);
 *   3. then, in a loop: claims entries another consumer of the group took but left unacknowledged for
 *      CLAIM_IDLE_MS (XAUTOCLAIM), reads new ones (XREADGROUP ... >), handles each and XACKs it.
 * Delivery is at least once: an event may come twice (a crash between handling and XACK, a retried
 * append), so handlers dedupe by the envelope's `id` (here, in memory, for the demonstration).
 *
 * Each handled event is printed as one JSON line: {stream, entryId, type, id, data}.
 * Settings (environment): REDIS_URL or REDIS_CLUSTER_NODES, KEY_PREFIX (gw), GROUP (events-consumer), CONSUMER (host-pid),
 * DOMAINS (users,orders,instances), START ($), CLAIM_IDLE_MS (60000), MAX_EVENTS (exit after that many; 0: never).
 */
'use strict';
const os = require('node:os');
const Redis = require('ioredis');

const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const clusterNodes = process.env.REDIS_CLUSTER_NODES; // host:port,host:port: a Redis Cluster instead
const prefix = process.env.KEY_PREFIX || 'gw';
const group = process.env.GROUP || 'events-consumer';
const consumer = process.env.CONSUMER || `${os.hostname()}-${process.pid}`;
const start = process.env.START || '$';
const claimIdleMs = Number(process.env.CLAIM_IDLE_MS || 60_000);
const maxEvents = Number(process.env.MAX_EVENTS || 0);
const domains = (process.env.DOMAINS || 'users,orders,instances').split(',').filter(Boolean);

/** The gateway's stream keys (docs/events.md): the hash tags put each stream in its writers' Cluster slot. */
const STREAMS = {
  users: `${prefix}:events:{users}`,
  orders: `${prefix}:events:{catalog}:orders`,
  instances: `${prefix}:events:{registry}:instances`,
};

const seen = new Set(); // event ids already handled (a real service keeps these durably, with a lifetime)
let handled = 0;
let stopping = false;

/** An entry's fields as an object: {type, event} for the gateway's own entries. */
function fieldsOf(flat) {
  const out = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}

/** Handles one entry; returns once it may be acknowledged. */
async function handle(stream, entryId, flat) {
  const f = fieldsOf(flat);
  let envelope = null;
  try {
    envelope = JSON.parse(f.event);
  } catch {
    // Not the gateway's envelope (another service's entry): handled by its type alone.
  }
  const id = envelope && envelope.id ? envelope.id : `${stream}/${entryId}`;
  if (seen.has(id)) return; // a duplicate: acknowledge it and move on
  seen.add(id);
  process.stdout.write(`${JSON.stringify({ stream, entryId, type: f.type || null, id, data: envelope ? envelope.data : null })}\n`);
  handled++;
}

async function consume(domain) {
  const stream = STREAMS[domain];
  if (!stream) throw new Error(`unknown domain ${domain}; the domains are ${Object.keys(STREAMS).join(', ')}`);
  const redis = clusterNodes
    ? new Redis.Cluster(clusterNodes.split(',').map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })))
    : new Redis(url, { maxRetriesPerRequest: null });
  try {
    await redis.xgroup('CREATE', stream, group, start, 'MKSTREAM');
  } catch (err) {
    if (!String(err.message).startsWith('BUSYGROUP')) throw err;
  }
  const ack = async (entries) => {
    for (const [entryId, flat] of entries) {
      await handle(stream, entryId, flat);
      await redis.xack(stream, group, entryId);
    }
  };
  // 2. Our own pending entries (id 0: what this consumer read before and never acknowledged).
  for (;;) {
    const reply = await redis.xreadgroup('GROUP', group, consumer, 'COUNT', 100, 'STREAMS', stream, '0');
    const entries = (reply && reply[0][1]) || [];
    if (!entries.length) break;
    await ack(entries);
  }
  while (!stopping && !(maxEvents && handled >= maxEvents)) {
    // 3a. Entries other consumers took and left unacknowledged for too long (they crashed).
    const [, claimed] = await redis.xautoclaim(stream, group, consumer, claimIdleMs, '0-0', 'COUNT', 100);
    await ack(claimed.filter(([, flat]) => flat)); // a deleted entry is claimed with nil fields
    // 3b. New entries.
    const reply = await redis.xreadgroup('GROUP', group, consumer, 'COUNT', 100, 'BLOCK', 1000, 'STREAMS', stream, '>');
    if (reply) await ack(reply[0][1]);
  }
  redis.disconnect();
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (stopping = true));
process.stderr.write(`consuming ${domains.map((d) => STREAMS[d]).join(', ')} as ${group}/${consumer}\n`);
Promise.all(domains.map(consume)).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err.stack || err}\n`);
    process.exit(1);
  },
);
