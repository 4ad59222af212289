/**
 * The benchmarks compile to node_modules/.cache/gateway-bench, and the compiled
 * Lua loader reads the scripts from next to itself (`src/redis/lua` there): this
 * copies them from the project's sources before a benchmark starts.
 */
import { cpSync, existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/util/paths';

/** The project's source folder, from the compiled bench folder `buildDir` (`__dirname` of the caller). */
export function sourceRoot(buildDir: string): string {
  try {
    // package.json may be a link from the build folder to the project: follow it to the sources.
    return path.dirname(realpathSync(path.join(projectRoot(buildDir), 'package.json')));
  } catch {
    // Built outside the project (e.g. /tmp): the sources are where the bench was started from.
    return process.cwd();
  }
}

/** `buildDir` is the compiled bench folder (`__dirname` of the caller). */
export function copyLuaBesideBuild(buildDir: string): void {
  const target = path.join(buildDir, '..', 'src', 'redis', 'lua');
  const source = path.join(sourceRoot(buildDir), 'src', 'redis', 'lua');
  if (path.resolve(source) !== path.resolve(target) && existsSync(source)) cpSync(source, target, { recursive: true });
}
