/**
 * The job types this process knows: every handler file in ./handlers, found at
 * start so that a new type is one new file. Tests and benchmarks may register
 * extra types on a registry instance.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { JobHandler } from './job-handler';

// Handlers differ in their data type; the registry only routes by type name and
// calls validate before run with the value validate returned.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobHandler = JobHandler<any, any>;

const HANDLER_DIR = path.join(__dirname, 'handlers');
const HANDLER_FILE = /^[^.].*(?<!\.d)\.(ts|js)$/;

function isHandler(value: unknown): value is AnyJobHandler {
  const h = value as Partial<JobHandler> | null;
  return typeof h === 'object' && h !== null && typeof h.type === 'string' && typeof h.validate === 'function' && typeof h.run === 'function';
}

/** Every JobHandler exported by a file of `dir` (default ./handlers), sorted by type. */
export function loadHandlers(dir = HANDLER_DIR): AnyJobHandler[] {
  const found: AnyJobHandler[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => HANDLER_FILE.test(f) && !/\.test\./.test(f))
    .sort()) {
    // Loaded at start-up only; a handler file is plain CommonJS after compilation.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, file)) as Record<string, unknown>;
    for (const value of Object.values(mod)) if (isHandler(value) && !found.includes(value)) found.push(value);
  }
  return found.sort((a, b) => a.type.localeCompare(b.type));
}

export class JobTypes {
  private readonly byType = new Map<string, AnyJobHandler>();

  constructor(handlers: Iterable<AnyJobHandler> = loadHandlers()) {
    for (const h of handlers) this.register(h);
  }

  /** Adds a type; a second handler for one type is a programming error. */
  register(handler: AnyJobHandler): void {
    if (this.byType.has(handler.type)) throw new Error(`job type ${handler.type} is registered twice`);
    this.byType.set(handler.type, handler);
  }

  get(type: string): AnyJobHandler | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  all(): AnyJobHandler[] {
    return [...this.byType.values()];
  }
}
