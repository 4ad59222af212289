/**
 * Dockerfile, docker-compose.yml and .dockerignore agree with the code: the
 * port is the config default, every variable they set is one the config reads
 * and the contract lists, their commands run files that `npm run build`
 * emits, and the health probe hits a path the router serves.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { createRouter, type RouterDeps } from '../../src/http/router';

const root = path.join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(path.join(root, file), 'utf8');

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with line continuations joined; `stage` counts FROMs (0-based). */
function dockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of joined.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(t)!;
    if (op.toUpperCase() === 'FROM') stage++;
    out.push({ op: op.toUpperCase(), args: args.trim(), stage });
  }
  return out;
}

/** The argv of an exec-form (JSON array) instruction. */
const execForm = (args: string): string[] => JSON.parse(args.replace(/^--\S+\s+/g, '')) as string[];

/** Variable names that src/config/ reads: `env.X`, `env['X']` and helpers called as `(env, 'X'`. */
function configReads(): Set<string> {
  const src = readdirSync(path.join(root, 'src', 'config'))
    .map((f) => read(path.join('src', 'config', f)))
    .join('\n');
  const names = new Set<string>();
  for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]*)|\benv\[['"]([A-Z][A-Z0-9_]*)['"]\]|\(env,\s*['"]([A-Z][A-Z0-9_]*)['"]/g)) {
    names.add(m[1] ?? m[2] ?? m[3]);
  }
  return names;
}

/** Names in the contract's Environment table. */
function contractVariables(): Set<string> {
  const file = path.join(root, '..', 'shared', 'api', 'README.md');
  const text = readFileSync(file, 'utf8');
  const section = text.split(/^## Environment\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const names = new Set<string>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
    for (const m of row.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  return names;
}

/** `dist/<path>.js` must come from `<path>.ts` inside what tsconfig.build.json compiles. */
function sourceOf(distFile: string): string {
  const m = /^dist\/(.+)\.js$/.exec(distFile);
  if (!m) throw new Error(`${distFile} is not under dist/`);
  return `${m[1]}.ts`;
}

const instructions = dockerfile(read('Dockerfile'));
const compose = parse(read('docker-compose.yml')) as {
  services: Record<
    string,
    {
      image?: string;
      build?: unknown;
      command?: string[];
      environment?: Record<string, string>;
      ports?: string[];
      depends_on?: Record<string, { condition: string }>;
      volumes?: string[];
      healthcheck?: { test?: string[]; disable?: boolean };
    }
  >;
  volumes?: Record<string, unknown>;
};
const { services } = compose;
const defaultPort = loadConfig({}).http.port;
const runtimeStage = Math.max(...instructions.map((i) => i.stage));
const runtime = instructions.filter((i) => i.stage === runtimeStage);

describe('Dockerfile', () => {
  test('is multi-stage on one Node LTS slim image, no older than the engines minimum: dev dependencies build, production dependencies run', () => {
    const froms = instructions.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    const majors = froms.map((f) => Number(/^node:(\d+)-slim\b/.exec(f.args)?.[1]));
    expect(new Set(majors).size).toBe(1);
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
    const minimum = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    // LTS lines are the even majors.
    expect(majors[0] % 2).toBe(0);
    expect(majors[0]).toBeGreaterThanOrEqual(minimum);
    const build = instructions.filter((i) => i.stage < runtimeStage && i.op === 'RUN').map((i) => i.args);
    expect(build.some((a) => /\bnpm ci\b/.test(a) && !/--omit=dev/.test(a))).toBe(true);
    expect(build.some((a) => /\bnpm run build\b/.test(a))).toBe(true);
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((a) => /\bnpm ci\b.*--omit=dev/.test(a))).toBe(true);
    expect(runs.some((a) => /npm run build|\btsc\b/.test(a))).toBe(false);
    expect(runtime.some((i) => i.op === 'COPY' && /--from=\S+\s+\S*dist\b/.test(i.args))).toBe(true);
  });

  test('the runtime copies what the app reads at run time (public/ for GraphiQL)', () => {
    expect(existsSync(path.join(root, 'public', 'graphiql-init.js'))).toBe(true);
    expect(runtime.some((i) => i.op === 'COPY' && /^public\s/.test(i.args))).toBe(true);
  });

  test('runs as a non-root user', () => {
    const users = runtime.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1].args).not.toMatch(/^(root|0)(:|$)/);
  });

  test('binds every interface on the config default port', () => {
    const env = runtime
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    const port = /\bPORT=(\d+)/.exec(env);
    if (port) expect(Number(port[1])).toBe(defaultPort);
    expect(runtime.filter((i) => i.op === 'EXPOSE').map((i) => Number(i.args))).toEqual([defaultPort]);
  });

  test('CMD runs the compiled entry that npm start runs', () => {
    const cmd = execForm(runtime.filter((i) => i.op === 'CMD').pop()!.args);
    expect(cmd[0]).toBe('node');
    expect(existsSync(path.join(root, sourceOf(cmd[1])))).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { main: string; scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${cmd[1]}`);
    expect(pkg.main).toBe(cmd[1]);
  });

  test('HEALTHCHECK fetches /healthz with node, on PORT or the default', () => {
    const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
    expect(hc).toBeDefined();
    const argv = execForm(hc!.args.replace(/^(--\S+\s+)*CMD\s+/, ''));
    expect(argv.slice(0, 2)).toEqual(['node', '-e']);
    expect(argv[2]).toContain('/healthz');
    expect(argv[2]).toContain(`process.env.PORT||${defaultPort}`);
  });

  test('.dockerignore keeps local state out and lets the build inputs in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.env', '.git', '.data']) expect(ignored).toContain(p);
    const copied = instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const c of copied) expect(ignored).not.toContain(c.replace(/\/$/, ''));
  });
});

describe('build output', () => {
  test('tsconfig emits dist/<path>.js for <path>.ts and the build copies the Lua scripts', () => {
    const ts = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(ts.compilerOptions.outDir).toBe('dist');
    expect(ts.compilerOptions.rootDir).toBe('.');
    const build = JSON.parse(read('tsconfig.build.json')) as { extends: string; include: string[]; compilerOptions?: { outDir?: string; rootDir?: string } };
    expect(build.extends).toBe('./tsconfig.json');
    expect(build.compilerOptions?.outDir ?? 'dist').toBe('dist');
    expect(build.compilerOptions?.rootDir ?? '.').toBe('.');
    expect(build.include).toContain('src');
    expect(read('scripts/copy-assets.mjs')).toContain('dist/src/redis/lua');
  });
});

describe('docker-compose.yml', () => {
  const reads = configReads();
  const contract = contractVariables();

  test('the config parser sees the variables it must', () => {
    // Guards the regex above: if it found nothing, the checks below would pass vacuously.
    for (const v of ['PORT', 'HOST', 'REDIS_URL', 'WORKER', 'KEY_PREFIX', 'SESSION_IDLE_TTL']) expect(reads).toContain(v);
    for (const v of ['PORT', 'REDIS_URL', 'WORKER', 'LOG_LEVEL']) expect(contract).toContain(v);
  });

  test('redis 7, pinned to a release, keeps an append-only file, never evicts, has a volume and a health check', () => {
    const redis = services.redis;
    expect(redis.image).toMatch(/^redis:7\.\d+\.\d+$/);
    const cmd = redis.command!.join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes?.some((v) => /:\/data$/.test(v))).toBe(true);
    expect(Object.keys(compose.volumes ?? {})).toContain(redis.volumes![0].split(':')[0]);
    expect(redis.healthcheck?.test?.join(' ')).toMatch(/redis-cli ping/);
  });

  test('the gateway publishes the config default port, leaves jobs to the worker and waits for a healthy Redis', () => {
    const gw = services.gateway;
    expect(gw.build).toBeDefined();
    const env = gw.environment ?? {};
    expect(env.WORKER).toBe('0');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    const containerPort = Number(env.PORT ?? defaultPort);
    expect(containerPort).toBe(defaultPort);
    expect(gw.ports).toContain(`${defaultPort}:${containerPort}`);
    expect(gw.depends_on?.redis.condition).toBe('service_healthy');
  });

  test('the worker runs the standalone worker entry that npm run worker runs', () => {
    const worker = services.worker;
    expect(worker.command?.[0]).toBe('node');
    const entry = worker.command![1];
    expect(entry).toBe('dist/src/worker.js');
    expect(existsSync(path.join(root, sourceOf(entry)))).toBe(true);
    const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(pkg.scripts.worker).toContain(`node ${entry}`);
    expect(worker.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(worker.depends_on?.redis.condition).toBe('service_healthy');
    expect(worker.image).toBe(services.gateway.image);
    // One build: the worker runs the image the gateway service builds, never pulls it.
    expect(worker.build).toBeUndefined();
    expect((worker as { pull_policy?: string }).pull_policy).toBe('never');
  });

  test('every variable set in the Dockerfile or compose is read by src/config/ and listed in the contract', () => {
    const names = new Set<string>();
    for (const s of Object.values(services).filter((s) => s.build || s.image === services.gateway.image))
      for (const k of Object.keys(s.environment ?? {})) names.add(k);
    for (const i of instructions.filter((i) => i.op === 'ENV')) for (const m of i.args.matchAll(/\b([A-Z][A-Z0-9_]*)=/g)) names.add(m[1]);
    expect(names.size).toBeGreaterThan(3);
    expect([...names].filter((n) => !reads.has(n))).toEqual([]);
    expect([...names].filter((n) => !contract.has(n))).toEqual([]);
  });

  test('every contract variable is read by src/config/', () => {
    expect([...contract].filter((n) => !reads.has(n))).toEqual([]);
  });
});

describe('health probe', () => {
  test('the router answers the HEALTHCHECK path with 200 without touching Redis', async () => {
    const hc = runtime.find((i) => i.op === 'HEALTHCHECK')!;
    const probePath = /\/[a-z]+(?=')/.exec(execForm(hc.args.replace(/^(--\S+\s+)*CMD\s+/, ''))[2])![0];
    const route = createRouter({
      ready: () => Promise.reject(new Error('the probe must not need Redis')),
      routes: new Map(),
      services: { config: loadConfig({}) },
    } as unknown as RouterDeps);
    let status = 0;
    let body = '';
    const res = {
      headersSent: false,
      writeHead(s: number) {
        status = s;
        return res;
      },
      setHeader() {},
      end(b?: string) {
        body = b ?? '';
      },
    };
    await route({ url: probePath, method: 'GET', headers: {} } as never, res as never);
    expect(probePath).toBe('/healthz');
    expect(status).toBe(200);
    expect(body).toBe('ok');
  });
});
