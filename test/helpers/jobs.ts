/** Helpers for job tests: GraphQL operations, a webhook receiver, polling, child worker processes. */
import type { Client } from 'graphql-ws';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TestApp } from './app';

export const JOB_FIELDS = 'id type state priority progress attempts maxAttempts data result error createdAt finishedAt';

export const ENQUEUE = `mutation E($input: EnqueueJobInput!) { enqueueJob(input: $input) { ${JOB_FIELDS} } }`;
export const JOB = `query J($id: ID!) { job(id: $id) { ${JOB_FIELDS} } }`;
export const CANCEL = 'mutation C($id: ID!) { cancelJob(id: $id) }';
export const RETRY = `mutation R($id: ID!) { retryJob(id: $id) { ${JOB_FIELDS} } }`;
export const ENQUEUE_MANY = `mutation M($inputs: [EnqueueJobInput!]!) { enqueueJobs(inputs: $inputs) { ${JOB_FIELDS} } }`;
export const MY_QUOTA = '{ myJobQuota { pending pendingBytes maxPending maxPendingBytes } }';

export interface JobQuotaView {
  pending: number;
  pendingBytes: number;
  maxPending: number;
  maxPendingBytes: number;
}

/** The caller's job quota as `myJobQuota` reports it. */
export async function quotaOf(t: TestApp, token: string): Promise<JobQuotaView> {
  const res = await t.gql<{ myJobQuota: JobQuotaView }>(MY_QUOTA, {}, { token });
  if (!res.data?.myJobQuota) throw new Error(`myJobQuota failed: ${JSON.stringify(res.errors)}`);
  return res.data.myJobQuota;
}

export interface JobView {
  id: string;
  type: string;
  state: string;
  priority: number;
  progress: number;
  attempts: number;
  maxAttempts: number;
  data: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export async function enqueue(t: TestApp, token: string, input: Record<string, unknown>): Promise<JobView> {
  const res = await t.gql<{ enqueueJob: JobView }>(ENQUEUE, { input }, { token });
  if (!res.data?.enqueueJob) throw new Error(`enqueueJob failed: ${JSON.stringify(res.errors)}`);
  return res.data.enqueueJob;
}

export async function jobOf(t: TestApp, token: string, id: string): Promise<JobView | null> {
  const res = await t.gql<{ job: JobView | null }>(JOB, { id }, { token });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data?.job ?? null;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Waits until the job reaches `state` (as seen through the API). */
export const waitForState = (t: TestApp, token: string, id: string, state: string, timeoutMs = 10_000): Promise<JobView> =>
  waitFor(
    `job ${id} to be ${state}`,
    async () => {
      const j = await jobOf(t, token, id);
      return j?.state === state ? j : null;
    },
    timeoutMs,
  );

export interface Delivery {
  path: string;
  key: string;
  body: unknown;
  at: number;
}

/** A local webhook receiver. `respond` decides status and delay per request (default 200 at once). */
export interface Receiver {
  url: string;
  host: string;
  deliveries: Delivery[];
  /** Idempotency keys seen, each counted once: what a receiver that drops duplicates applies. */
  applied: Set<string>;
  respond: (d: Delivery) => { status?: number; delayMs?: number };
  close(): Promise<void>;
}

export async function webhookReceiver(): Promise<Receiver> {
  const r = { deliveries: [] as Delivery[], applied: new Set<string>(), respond: (() => ({})) as Receiver['respond'] };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      const d: Delivery = { path: req.url ?? '/', key: String(req.headers['idempotency-key'] ?? ''), body, at: Date.now() };
      r.deliveries.push(d);
      const { status = 200, delayMs = 0 } = r.respond(d);
      setTimeout(() => {
        if (status >= 200 && status < 300) r.applied.add(d.key);
        if (!res.destroyed) res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const ROOT = path.join(__dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  output: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * Starts `src/worker.ts` as a real child process (TypeScript through
 * test/helpers/ts-register.js) and resolves once it logs that it is running.
 */
export async function spawnWorker(env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'test/helpers/ts-register.js'), path.join(ROOT, 'src/worker.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not running after ${timeoutMs} ms:\n${output.join('')}`)), timeoutMs);
    const onData = (buf: Buffer): void => {
      output.push(buf.toString('utf8'));
      if (output.join('').includes('"msg":"worker running"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before running:\n${output.join('')}`));
    });
  });
  await ready;
  return { child, output, exited };
}

/** A subscription's events with arrival times, its errors, and whether the server completed it. */
export interface Recording<T> {
  events: Array<{ data: T; at: number }>;
  errors: Array<{ message?: string; extensions?: { code?: string } }>;
  completed: boolean;
  stop(): void;
  /** Resolves once `pred` holds for the events so far, an error arrives, or the subscription ends. */
  until(pred: (events: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
}

export function record<T = Record<string, any>>(client: Client, query: string, variables: Record<string, unknown> = {}): Recording<T> {
  const rec: Recording<T> = {
    events: [],
    errors: [],
    completed: false,
    stop: () => {},
    async until(pred, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      const data = (): T[] => rec.events.map((e) => e.data);
      while (!pred(data()) && !rec.errors.length && !rec.completed) {
        if (Date.now() > end) throw new Error(`subscription condition not met within ${timeoutMs} ms; got ${JSON.stringify(data())}`);
        await sleep(20);
      }
      return data();
    },
  };
  rec.stop = client.subscribe<T>(
    { query, variables },
    {
      next: (v) => {
        if (v.errors) rec.errors.push(...(v.errors as Recording<T>['errors']));
        if (v.data) rec.events.push({ data: v.data, at: Date.now() });
      },
      error: (e) => {
        rec.errors.push(...(Array.isArray(e) ? e : [{ message: String((e as Error)?.message ?? e) }]));
      },
      complete: () => {
        rec.completed = true;
      },
    },
  );
  return rec;
}
