/**
 * How a gateway job sits in BullMQ and how it reads back: the stored data wraps
 * the client's data with its owner, priorities are mapped onto BullMQ's
 * lower-first numbers, and BullMQ states collapse onto the five JobStates.
 */
import type { Job as BullJob } from 'bullmq';
import { JOB_LIMITS, JobState } from './job-limits';

/** What BullMQ stores as a job's data. */
export interface StoredJobData {
  /** `u:<userId>` of the creator; null for internal jobs nobody but admins may see. */
  owner: string | null;
  payload: unknown;
}

/** A job as the API shows it, plus its owner. */
export interface JobRecord {
  id: string;
  type: string;
  state: JobState;
  priority: number;
  progress: number;
  attempts: number;
  maxAttempts: number;
  data: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  owner: string | null;
}

// BullMQ runs priority 0 (its plain wait list) before every prioritized job and
// lower numbers first, so every job gets a prioritized number: client priority p
// in [-1000, 1000] becomes 1001 - p in [1, 2001]. FIFO within one number is BullMQ's.
const PRIORITY_ORIGIN = JOB_LIMITS.priority + 1;
export const toBullPriority = (priority: number): number => PRIORITY_ORIGIN - priority;
export const fromBullPriority = (bull: number): number => (bull > 0 ? PRIORITY_ORIGIN - bull : 0);

/** BullMQ state names -> JobState; anything else (e.g. unknown) -> undefined. */
export function jobStateOf(bullState: string): JobState | undefined {
  switch (bullState) {
    case 'waiting':
    case 'prioritized':
    case 'paused':
    case 'waiting-children':
      return JobState.WAITING;
    case 'delayed':
      return JobState.DELAYED;
    case 'active':
      return JobState.ACTIVE;
    case 'completed':
      return JobState.COMPLETED;
    case 'failed':
      return JobState.FAILED;
    default:
      return undefined;
  }
}

/** BullMQ job types that make up each JobState, for listing and counting. */
export const BULL_TYPES: Record<JobState, Array<'waiting' | 'prioritized' | 'delayed' | 'active' | 'completed' | 'failed'>> = {
  [JobState.WAITING]: ['prioritized', 'waiting'],
  [JobState.DELAYED]: ['delayed'],
  [JobState.ACTIVE]: ['active'],
  [JobState.COMPLETED]: ['completed'],
  [JobState.FAILED]: ['failed'],
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(raw: string | undefined): unknown {
  if (raw === undefined || raw === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** The fields of a job that the API needs, whichever way they were read. */
interface JobFacts {
  id: string;
  name: string;
  data: unknown;
  attempts: number | undefined;
  priority: number;
  progress: unknown;
  attemptsMade: number;
  timestamp: number;
  failedReason: string | undefined;
  returnvalue: unknown;
  finishedOn: number | undefined;
}

function toRecord(f: JobFacts, state: JobState): JobRecord {
  const stored: StoredJobData = isObject(f.data) && 'payload' in f.data ? (f.data as unknown as StoredJobData) : { owner: null, payload: f.data };
  const progress = typeof f.progress === 'number' && Number.isFinite(f.progress) ? Math.max(0, Math.min(100, Math.round(f.progress))) : 0;
  const finished = state === JobState.COMPLETED || state === JobState.FAILED;
  return {
    id: f.id,
    type: f.name,
    state,
    priority: fromBullPriority(f.priority),
    progress,
    // While a job runs, the attempt in progress counts.
    attempts: f.attemptsMade + (state === JobState.ACTIVE ? 1 : 0),
    maxAttempts: f.attempts ?? 1,
    data: isObject(stored.payload) ? stored.payload : {},
    result: isObject(f.returnvalue) ? f.returnvalue : null,
    error: f.failedReason || null,
    createdAt: new Date(f.timestamp),
    finishedAt: finished && f.finishedOn ? new Date(f.finishedOn) : null,
    owner: stored.owner ?? null,
  };
}

/** From the raw hash that the jobSnapshot script returns. */
export function recordFromHash(id: string, state: JobState, h: Record<string, string>): JobRecord {
  const opts = parseJson(h.opts);
  return toRecord(
    {
      id,
      name: h.name ?? '',
      data: parseJson(h.data),
      attempts: isObject(opts) && typeof opts.attempts === 'number' ? opts.attempts : undefined,
      priority: Number(h.priority ?? 0),
      progress: parseJson(h.progress),
      attemptsMade: Number(h.atm ?? h.attemptsMade ?? 0),
      timestamp: Number(h.timestamp ?? 0),
      failedReason: h.failedReason,
      returnvalue: parseJson(h.returnvalue),
      finishedOn: h.finishedOn ? Number(h.finishedOn) : undefined,
    },
    state,
  );
}

/** From a BullMQ Job object (as add and getJobs return it). */
export function recordFromJob(job: BullJob, state: JobState): JobRecord {
  return toRecord(
    {
      id: String(job.id),
      name: job.name,
      data: job.data,
      attempts: job.opts.attempts,
      priority: job.priority ?? job.opts.priority ?? 0,
      progress: job.progress,
      attemptsMade: job.attemptsMade ?? 0,
      timestamp: job.timestamp,
      failedReason: job.failedReason,
      returnvalue: job.returnvalue,
      finishedOn: job.finishedOn,
    },
    state,
  );
}

/** How many jobs are in each state, as queueStats shows them. */
export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  failed: number;
}

/** What live job updates read from the queue. */
export interface JobReader {
  /** BullMQ's keys of the queue (its event stream among them). */
  readonly queue: { readonly keys: Readonly<Record<string, string>> };
  snapshot(id: string): Promise<JobRecord | null>;
  counts(): Promise<QueueCounts>;
}
