/**
 * `npm start` behaviour of the built entry, as a real process:
 * - a bad variable stops start-up with a non-zero exit naming the variable;
 * - with no Redis configured: 127.0.0.1:6379 when something answers there, else
 *   a local redis-server with AOF under .data/ that stops with the gateway, else
 *   an exit saying what to install.
 * The machine may have its own Redis on 6379, so the "nothing on 6379" cases run
 * the gateway in a fresh network namespace (`unshare -n`, loopback only), where
 * 127.0.0.1:6379 is whatever the test puts there. Without unshare (not root),
 * those cases are skipped with a message; the building blocks are still tested.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startRedisServer } from '../../src/redis/embedded';
import { buildGateway, type Build } from '../helpers/build';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process';
import { testRedisUrl, uniquePrefix } from '../helpers/redis';

jest.setTimeout(90_000);

let build: Build;
beforeAll(async () => {
  build = await buildGateway();
});
afterAll(() => build?.remove());

const which = (cmd: string): string | null => {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};
const UNSHARE = which('unshare');
const IP = which('ip');
const REDIS_SERVER = which('redis-server');
const canIsolate = Boolean(UNSHARE && IP && spawnSync(UNSHARE, ['-n', IP, 'link', 'set', 'lo', 'up']).status === 0);
if (!canIsolate) console.warn('start.test: unshare -n is not available (needs root and util-linux/iproute2); the no-Redis-on-6379 cases are skipped');
const isolated = canIsolate ? describe : describe.skip;

/** Runs node on the entry inside a new network namespace with loopback up; `before` runs first in the same namespace. */
function inNamespace(env: Record<string, string>, before = ''): GatewayProcess {
  const script = `${IP} link set lo up && ${before} exec "$0" "$@"`;
  return spawnGateway(build.entry, env, { command: UNSHARE!, args: ['-n', '/bin/sh', '-c', script, process.execPath, build.entry] });
}

/** Runs a command inside the network namespace of `pid`. */
function nsExec(pid: number, cmd: string, args: string[]): string {
  return execFileSync(which('nsenter')!, ['-t', String(pid), '-n', cmd, ...args], { encoding: 'utf8' });
}

/** Processes whose working directory is `dir` (redis-server chdirs to its --dir). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readlinkSync(`/proc/${p}/cwd`) === dir) pids.push(Number(p));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Processes whose command line mentions `text`. */
function processesRunning(text: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const baseEnv = (): Record<string, string> => ({
  PORT: '0',
  HOST: '127.0.0.1',
  KEY_PREFIX: uniquePrefix('start'),
  LOG_LEVEL: 'info',
  WORKER: '0',
  RATE_LIMIT_DEFAULT: 'off',
  SCRYPT_N: '1024',
});

describe('a bad variable stops start-up naming it', () => {
  test.each([
    ['PORT', 'http'],
    ['REDIS_URL', 'localhost:6379'],
    ['SESSION_IDLE_TTL', '30 minutes'],
    ['NODE_ENV', 'prod'],
  ])('%s=%s', async (variable, value) => {
    const gw = spawnGateway(build.entry, { ...baseEnv(), REDIS_URL: testRedisUrl(), [variable]: value });
    const { code } = await gw.exited;
    expect(code).not.toBe(0);
    expect(gw.stderr()).toMatch(new RegExp(`^Configuration error: ${variable}=`, 'm'));
    expect(gw.stderr()).toContain('accepts');
    expect(gw.stdout()).not.toContain('gateway listening');
  });
});

test('with REDIS_URL it starts, serves /readyz, and stops on SIGTERM', async () => {
  const gw = spawnGateway(build.entry, { ...baseEnv(), REDIS_URL: testRedisUrl() });
  const url = String((await gw.waitFor((l) => l.msg === 'gateway listening')).url);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  gw.kill('SIGTERM');
  expect((await gw.exited).code).toBe(0);
});

test('logs are JSON lines when piped, readable text on a terminal in development', async () => {
  // Piped (as every spawnGateway here): each stdout line is a JSON object.
  const piped = spawnGateway(build.entry, { ...baseEnv(), REDIS_URL: testRedisUrl() });
  await piped.waitFor((l) => l.msg === 'gateway listening');
  piped.kill('SIGTERM');
  await piped.exited;
  expect(
    piped
      .stdout()
      .trim()
      .split('\n')
      .every((l) => l.startsWith('{')),
  ).toBe(true);

  const SCRIPT = which('script');
  if (!SCRIPT) return console.warn('start.test: `script` (util-linux) is missing; the terminal case is not checked');
  // `script` gives the gateway a pseudo-terminal as stdout.
  const tty = spawnGateway(
    build.entry,
    { ...baseEnv(), REDIS_URL: testRedisUrl() },
    { command: SCRIPT, args: ['-qefc', `${process.execPath} ${build.entry}`, '/dev/null'] },
  );
  const deadline = Date.now() + 30_000;
  while (!/gateway listening/.test(tty.stdout()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const out = tty.stdout();
  for (const pid of processesRunning(build.entry)) if (pid !== tty.child.pid) process.kill(pid, 'SIGTERM');
  await tty.exited;
  expect(out).toMatch(/INFO.*gateway listening/);
  expect(out).not.toMatch(/"level":/);
});

describe('building blocks of the default Redis', () => {
  test('startRedisServer runs redis-server with AOF on under the data dir, and stop() ends the process', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-aof-'));
    const server = await startRedisServer(dir);
    const c = new Redis(server.url);
    try {
      expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await c.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await c.config('GET', 'dir')).toEqual(['dir', dir]);
      await c.set('k', 'v');
      // Redis 7 keeps the AOF in a directory of its own (appendonlydir); older ones write appendonly.aof.
      expect(readdirSync(dir).some((f) => f === 'appendonlydir' || f.endsWith('.aof'))).toBe(true);
    } finally {
      c.disconnect();
    }
    const pid = server.child.pid!;
    await server.stop();
    expect(() => process.kill(pid, 0)).toThrow();
    // Started again on the same data, the key is still there (AOF).
    const again = await startRedisServer(dir);
    const c2 = new Redis(again.url);
    try {
      expect(await c2.get('k')).toBe('v');
    } finally {
      c2.disconnect();
      await again.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

isolated('no Redis configured (own network namespace)', () => {
  test('nothing on 127.0.0.1:6379: starts redis-server with AOF under .data/, and stops it on SIGTERM', async () => {
    const dataDir = path.join(build.dir, '.data', 'redis');
    rmSync(path.join(build.dir, '.data'), { recursive: true, force: true });
    const gw = inNamespace(baseEnv());
    try {
      const using = await gw.waitFor((l) => l.msg === 'using local Redis', 30_000);
      const port = Number(/:(\d+)$/.exec(String(using.url))?.[1]);
      expect(port).not.toBe(6379);
      const listening = await gw.waitFor((l) => l.msg === 'gateway listening');
      expect(nsExec(gw.child.pid!, REDIS_SERVER!.replace(/redis-server$/, 'redis-cli'), ['-p', String(port), 'CONFIG', 'GET', 'appendonly'])).toMatch(
        /appendonly\s+yes/,
      );
      const probe = nsExec(gw.child.pid!, process.execPath, [
        '-e',
        `fetch(${JSON.stringify(`${String(listening.url)}/readyz`)}).then((r) => console.log(r.status))`,
      ]);
      expect(probe.trim()).toBe('200');
      expect(existsSync(dataDir)).toBe(true);
      expect(readdirSync(dataDir).some((f) => f === 'appendonlydir' || f.endsWith('.aof'))).toBe(true);
      expect(processesIn(dataDir)).toHaveLength(1);
    } finally {
      gw.kill('SIGTERM');
    }
    expect((await gw.exited).code).toBe(0);
    expect(processesIn(dataDir)).toEqual([]);
  });

  test('the local redis-server does not outlive a failed start (port already taken)', async () => {
    const dataDir = path.join(build.dir, '.data', 'redis');
    const blocker = `${process.execPath} -e "require('net').createServer().listen(4999, '127.0.0.1').unref(); setTimeout(() => {}, 4000)" >/dev/null 2>&1 & sleep 0.5;`;
    const gw = inNamespace({ ...baseEnv(), PORT: '4999' }, blocker);
    const { code } = await gw.exited;
    expect(code).toBe(1);
    expect(gw.stderr()).toMatch(/EADDRINUSE/);
    expect(gw.lines.some((l) => l.msg === 'using local Redis')).toBe(true);
    expect(processesIn(dataDir)).toEqual([]);
  });

  test('SIGTERM during start-up still exits 0 and stops the local redis-server', async () => {
    const dataDir = path.join(build.dir, '.data', 'redis');
    const gw = inNamespace(baseEnv());
    await gw.waitFor((l) => l.msg === 'using local Redis', 30_000);
    gw.kill('SIGTERM');
    expect((await gw.exited).code).toBe(0);
    expect(processesIn(dataDir)).toEqual([]);
  });

  test('something answers on 127.0.0.1:6379: it is used, and no local server is started', async () => {
    rmSync(path.join(build.dir, '.data'), { recursive: true, force: true });
    const redisDir = mkdtempSync(path.join(tmpdir(), 'gw-6379-'));
    const before = `${REDIS_SERVER} --port 6379 --bind 127.0.0.1 --save '' --dir ${redisDir} --daemonize yes >/dev/null && sleep 0.3 &&`;
    const gw = inNamespace(baseEnv(), before);
    try {
      const listening = await gw.waitFor((l) => l.msg === 'gateway listening', 30_000);
      expect(listening.redis).toBe('standalone');
      expect(gw.lines.find((l) => l.msg === 'using local Redis')?.url).toBe('redis://127.0.0.1:6379');
      expect(existsSync(path.join(build.dir, '.data'))).toBe(false);
    } finally {
      gw.kill('SIGTERM');
      await gw.exited;
      for (const pid of processesIn(redisDir)) process.kill(pid, 'SIGKILL');
      rmSync(redisDir, { recursive: true, force: true });
    }
  });

  test('neither Redis nor redis-server: exits non-zero saying what to install', async () => {
    const gw = inNamespace({ ...baseEnv(), PATH: '/nonexistent' });
    const { code } = await gw.exited;
    expect(code).not.toBe(0);
    expect(gw.stderr()).toMatch(/redis-server is not installed/);
    expect(gw.stderr()).toMatch(/apt-get install redis-server|REDIS_URL/);
  });
});
