/**
 * What a job may be: its bounds (priority, delay, attempts, batch size, data depth) and the
 * lifecycle states the API shows. The GraphQL input and enum (types/jobs/) use these.
 */

/** A job's state as clients see it. FAILED: dead-lettered, every attempt spent. */
export enum JobState {
  WAITING = 'WAITING',
  DELAYED = 'DELAYED',
  ACTIVE = 'ACTIVE',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
}

/** Bounds of every job, for the input class and the service alike. */
export const JOB_LIMITS = { priority: 1000, delayMs: 24 * 86_400_000, maxAttempts: 25, batch: 100 } as const;

/** Deepest nesting of job data: far beyond any real payload, far below what JSON.stringify's recursion survives. */
export const MAX_DATA_DEPTH = 64;

/** Whether objects and arrays in `value` nest at most `max` levels; walked without recursion, since the depth is the client's. */
export function nestedAtMost(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return true;
  const pending: Array<[object, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, depth] = next;
    if (depth > max) return false;
    for (const key in v) {
      const child = (v as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return true;
}

const JOB_TYPE = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/;
const MAX_TYPE_LENGTH = 64;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/** Whether `type` is written as a job type (`email.send`): what a type filter may name. */
export const isJobTypeName = (type: string): boolean => type.length <= MAX_TYPE_LENGTH && JOB_TYPE.test(type);

/** What is wrong with an optional integer, in class-validator's words (as every other input's errors read); null when nothing. */
function intProblem(v: number | null | undefined, min: number, max: number): string | null {
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v)) return 'must be an integer number';
  return v < min ? `must not be less than ${min}` : v > max ? `must not be greater than ${max}` : null;
}

type EnqueueFields = {
  type: string;
  data: unknown;
  priority?: number | null;
  delayMs?: number | null;
  maxAttempts?: number | null;
  idempotencyKey?: string | null;
};

/**
 * The input's problems by field, or null when it is fine: type, data depth, priority, delay,
 * attempts, key. Builds its answer only when something is wrong (it runs for every job of a batch).
 */
export function enqueueInputProblems(input: EnqueueFields): Record<string, string[]> | null {
  let out: Record<string, string[]> | null = null;
  const add = (field: string, message: string | null): void => {
    if (message) ((out ??= {})[field] ??= []).push(message);
  };
  const { type } = input;
  add('type', JOB_TYPE.test(type) ? null : 'must be a job type such as email.send');
  add('type', type.length > MAX_TYPE_LENGTH ? `must be shorter than or equal to ${MAX_TYPE_LENGTH} characters` : null);
  add('data', nestedAtMost(input.data, MAX_DATA_DEPTH) ? null : `must nest at most ${MAX_DATA_DEPTH} levels deep`);
  add('priority', intProblem(input.priority, -JOB_LIMITS.priority, JOB_LIMITS.priority));
  add('delayMs', intProblem(input.delayMs, 0, JOB_LIMITS.delayMs));
  add('maxAttempts', intProblem(input.maxAttempts, 1, JOB_LIMITS.maxAttempts));
  const key = input.idempotencyKey;
  add('idempotencyKey', key === undefined || key === null || IDEMPOTENCY_KEY.test(key) ? null : 'must be 1 to 128 printable ASCII characters');
  return out;
}
