/**
 * The rule of docs/testing.md, checked on the test files' text: every test file sits in a folder
 * jest runs; unit tests use no Redis, network, server or child process; integration tests use
 * real Redis but send no request and start no process; e2e tests drive a running gateway.
 * A cheap check of what each file imports and calls, not a proof of what it does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const TEST_ROOT = path.join(__dirname, '..');
const FOLDERS = ['unit', 'integration', 'e2e', 'cluster', 'sentinel'];

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

const testFiles = walk(TEST_ROOT)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.relative(TEST_ROOT, f).split(path.sep).join('/'));
const inFolder = (folder: string): string[] => testFiles.filter((f) => f.startsWith(`${folder}/`));

/** The file without its comment lines, so prose that names a call does not count as the call. */
function code(file: string): string {
  return readFileSync(path.join(TEST_ROOT, file), 'utf8')
    .split('\n')
    .filter((l) => !/^\s*(\/\/|\/\*|\*)/.test(l))
    .join('\n');
}

/** Modules a file imports for their values (`import type` needs nothing at run time). */
function valueImports(text: string): string[] {
  const from = [...text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'([^']+)'/gms), ...text.matchAll(/^import\s+'([^']+)'/gm)];
  return [...from.map((m) => m[1]), ...[...text.matchAll(/require\('([^']+)'\)/g)].map((m) => m[1])];
}

interface Rule {
  /** Modules (exact, or ending in the given path) the folder may not import. */
  modules: RegExp;
  /** Calls and names the folder may not use. */
  uses: RegExp;
}

/** What starts or reaches a server, a socket, Redis or a process. */
const UNIT: Rule = {
  modules:
    /^(ioredis|bullmq|ws|graphql-ws|playwright-core|smtp-server|nodemailer|(node:)?(child_process|net|http|https))$|\/helpers\/(?!json-schema$|logs$)|\/src\/(app\/app|redis\/(connection|embedded))$/,
  uses: /(?<![\w.$])(fetch|spawn|spawnSync|exec|execSync|execFile|execFileSync|fork|startTestApp|startServices|startApp|startWorker|rawRedis|ownRedis)\(|new (WebSocket|Redis)\(|\.listen\(/,
};

/** What sends a request to a gateway, or starts a process, browser or socket client. */
const INTEGRATION: Rule = {
  modules:
    /^(ws|graphql-ws|playwright-core|(node:)?(child_process|http|https))$|\/helpers\/(ws|instances|roundtrips|build|gateway-process|commerce|analytics|jobs)$/,
  uses: /(?<![\w.$])(fetch|spawn|exec|execFile|fork|startTestApp|gqlRequest|registerUser|loginAs|adminToken|wsClient)\(|\.gql\(/,
};

function broken(files: string[], rule: Rule): string[] {
  return files.flatMap((file) => {
    const text = code(file);
    const modules = valueImports(text).filter((m) => rule.modules.test(m));
    const use = rule.uses.exec(text);
    return [...modules.map((m) => `${file} imports ${m}`), ...(use ? [`${file} uses ${use[0]}`] : [])];
  });
}

test('every test file is in a folder a jest project runs', () => {
  expect(testFiles.filter((f) => !FOLDERS.includes(f.split('/')[0]))).toEqual([]);
  for (const folder of FOLDERS) expect(inFolder(folder).length).toBeGreaterThan(0);
});

test('unit tests use no Redis, network, server or child process', () => {
  // This file names those calls in its rules.
  expect(
    broken(
      inFolder('unit').filter((f) => f !== 'unit/test-layout.test.ts'),
      UNIT,
    ),
  ).toEqual([]);
});

test('integration tests use real Redis, and send no request and start no process', () => {
  expect(broken(inFolder('integration'), INTEGRATION)).toEqual([]);
  const noRedis = inFolder('integration').filter((f) => !/\b(startServices|rawRedis|ownRedis|startApp|flushPrefix)\(/.test(code(f)));
  expect(noRedis).toEqual([]);
});

test('e2e tests drive a running gateway (in process, spawned, or in a browser)', () => {
  const idle = inFolder('e2e').filter(
    (f) => !/\b(startTestApp|twoInstances|startInstances|countingSetup|spawnGateway|startApp|gqlRequest|wsClient)\(/.test(code(f)),
  );
  expect(idle).toEqual([]);
});

describe('the checks themselves', () => {
  const check = (rule: Rule, text: string): boolean => valueImports(text).some((m) => rule.modules.test(m)) || rule.uses.test(text);

  test('catch what each rule forbids', () => {
    expect(check(UNIT, "import { rawRedis } from '../helpers/redis';")).toBe(true);
    expect(check(UNIT, "import Redis from 'ioredis';")).toBe(true);
    expect(check(UNIT, "import { spawn } from 'node:child_process';")).toBe(true);
    expect(check(UNIT, 'await fetch(url);')).toBe(true);
    expect(check(INTEGRATION, "const r = await t.gql('{ me { id } }');")).toBe(true);
    expect(check(INTEGRATION, "import { wsClient } from '../helpers/ws';")).toBe(true);
    expect(check(INTEGRATION, 'const t = await startTestApp();')).toBe(true);
  });

  test('let through what each rule allows', () => {
    expect(check(UNIT, "import type Redis from 'ioredis';")).toBe(false);
    expect(check(UNIT, "import { validate } from '../helpers/json-schema';")).toBe(false);
    expect(check(UNIT, "import { buildGatewaySchema } from '../../src/app/schema';")).toBe(false);
    expect(check(UNIT, 'const m = /^(\\S+)/.exec(line);')).toBe(false);
    expect(check(INTEGRATION, "import { startServices } from '../helpers/services';\nconst t = await startServices();")).toBe(false);
    expect(check(INTEGRATION, "import { ownRedis } from '../helpers/redis';")).toBe(false);
  });
});
