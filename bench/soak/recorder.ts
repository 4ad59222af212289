/** What the requests and checks recorded: latencies by kind, errors by code. */

export function percentile(sorted: Float64Array, q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

export function sortedOf(xs: number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

export class Recorder {
  /** Latencies of successful requests, by kind. */
  readonly byKind = new Map<string, number[]>();
  readonly all: number[] = [];
  window: number[] = [];
  readonly errors = new Map<string, number>();
  readonly errorsByKind = new Map<string, number>();
  /** The first few messages per code, to say what went wrong. */
  readonly examples = new Map<string, string[]>();
  requests = 0;
  windowRequests = 0;
  opsDone = 0;

  ok(kind: string, ms: number): void {
    let xs = this.byKind.get(kind);
    if (!xs) this.byKind.set(kind, (xs = []));
    xs.push(ms);
    this.all.push(ms);
    this.window.push(ms);
    this.requests++;
    this.windowRequests++;
  }

  /** A request that failed, or a check on an answer that failed (`request` false: no extra request). */
  fail(kind: string, code: string, message: string, request = true): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
    this.errorsByKind.set(`${kind} ${code}`, (this.errorsByKind.get(`${kind} ${code}`) ?? 0) + 1);
    const ex = this.examples.get(code) ?? [];
    if (ex.length < 3) ex.push(`${kind}: ${message}`);
    this.examples.set(code, ex);
    if (request) {
      this.requests++;
      this.windowRequests++;
    }
  }

  errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }
}
