/**
 * A real Redis Cluster for tests: three masters and three replicas started from
 * `redis-server` binaries on free ports, joined with `redis-cli --cluster create`,
 * ready once every node reports cluster_state:ok and knows all six nodes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { freePort, pingRedis } from '../../src/redis/embedded';

export interface ClusterNode {
  port: number;
  /** The node's own cluster bus port (set explicitly so port + 10000 need not be free). */
  busPort: number;
  child: ChildProcess;
}

export interface TestCluster {
  nodes: ClusterNode[];
  /** `host:port,host:port,...` as REDIS_CLUSTER_NODES takes it. */
  seeds: string;
  dir: string;
  /** A cluster client for assertions; quit it when done. */
  client(): Cluster;
  /** SIGKILLs one node (for failover tests). */
  kill(port: number): Promise<void>;
  /** Stops every node and removes the data. Idempotent. */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout: how soon a dead master is failed over. Default 2000 ms. */
  nodeTimeoutMs?: number;
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    const text = (await r.call('CLUSTER', 'INFO')) as string;
    return Object.fromEntries(
      text
        .split(/\r?\n/)
        .filter(Boolean)
        .map((l) => l.split(':') as [string, string]),
    );
  } catch {
    return {};
  } finally {
    r.disconnect();
  }
}

async function replicaSynced(port: number): Promise<boolean> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    const info = await r.info('replication');
    return /role:master/.test(info) || /master_link_status:up/.test(info);
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/** Polls until every live node reports a healthy, fully known cluster and every replica has synced. */
export async function waitClusterOk(ports: number[], expectedNodes: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(ports.map(clusterInfo));
    const healthy = infos.every((i) => i.cluster_state === 'ok' && i.cluster_slots_ok === '16384' && Number(i.cluster_known_nodes) === expectedNodes);
    if (healthy && (await Promise.all(ports.map(replicaSynced))).every(Boolean)) return;
    if (Date.now() > deadline) throw new Error(`cluster not ok within ${timeoutMs} ms: ${JSON.stringify(infos.map((i) => i.cluster_state))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a cluster (3 masters + 3 replicas by default). Stop it with `stop()`. */
export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const total = masters * (1 + (opts.replicasPerMaster ?? 1));
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-cluster-'));
  const ports = await distinctFreePorts(total * 2);
  const nodes: ClusterNode[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((n) => (n.child.kill('SIGKILL'), exited(n.child))));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < total; i++) {
      const port = ports[i];
      const busPort = ports[total + i];
      const nodeDir = path.join(dir, String(port));
      mkdirSync(nodeDir);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--dir',
          nodeDir,
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(busPort),
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(opts.nodeTimeoutMs ?? 2000),
          '--appendonly',
          'yes',
          '--appendfsync',
          'everysec',
          '--save',
          '',
          '--maxmemory-policy',
          'noeviction',
          // Replicas sync at once (default waits 5 s for more replicas), so a failover right after start has a replica to promote.
          '--repl-diskless-sync-delay',
          '0',
        ],
        { stdio: 'ignore' },
      );
      nodes.push({ port, busPort, child });
    }
    const deadline = Date.now() + 10_000;
    for (const n of nodes) {
      while (!(await pingRedis('127.0.0.1', n.port))) {
        if (n.child.exitCode !== null) throw new Error(`cluster node ${n.port} exited with code ${n.child.exitCode}`);
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} did not answer within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(opts.replicasPerMaster ?? 1), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}\n${create.stderr}`);
    await waitClusterOk(
      nodes.map((n) => n.port),
      total,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const seeds = nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  return {
    nodes,
    seeds,
    dir,
    client: () =>
      new Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
        { redisOptions: { maxRetriesPerRequest: 1 } },
      ),
    async kill(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no cluster node on port ${port}`);
      node.child.kill('SIGKILL');
      await exited(node.child);
    },
    stop,
  };
}

/** Parses REDIS_CLUSTER_NODES-style seeds. */
export function parseSeeds(seeds: string): Array<{ host: string; port: number }> {
  return seeds
    .split(',')
    .filter(Boolean)
    .map((s) => {
      const i = s.lastIndexOf(':');
      return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
    });
}
