/**
 * Compiles the gateway once per test file into a private folder (never the
 * shared dist/), laid out like a checkout: package.json copied, node_modules
 * and public/ linked, Lua scripts copied next to the loader. Tests then spawn
 * `node <dir>/src/index.js` as a real process.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

export interface Build {
  dir: string;
  entry: string;
  remove(): void;
}

export async function buildGateway(): Promise<Build> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-build-'));
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const out = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, '--tsBuildInfoFile', path.join(dir, '.tsbuildinfo')],
      { cwd: ROOT },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
  const entry = path.join(dir, 'src', 'index.js');
  // Type errors elsewhere still emit JavaScript; only a missing entry is fatal here.
  if (!existsSync(entry)) throw new Error(`build failed (tsc exit ${out.code}):\n${out.output}`);
  cpSync(path.join(ROOT, 'src', 'redis', 'lua'), path.join(dir, 'src', 'redis', 'lua'), { recursive: true });
  copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  if (existsSync(path.join(ROOT, 'public'))) symlinkSync(path.join(ROOT, 'public'), path.join(dir, 'public'), 'dir');
  return { dir, entry, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
