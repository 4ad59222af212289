/**
 * An AsyncIterableIterator fed by push(): what a subscription resolver returns
 * when its events come from an in-process source rather than from the pub/sub.
 * Values pushed while nobody is pulling are buffered (up to `limit`, oldest
 * dropped first: a slow subscriber gets the latest states, not a growing backlog).
 */
export class PushIterator<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<(r: IteratorResult<T>) => void> = [];
  private done = false;
  private sink: ((value: T) => void) | null = null;

  constructor(
    private readonly onClose: () => void,
    private readonly limit = 100,
  ) {}

  get closed(): boolean {
    return this.done;
  }

  /**
   * Hands every later value to `sink`, synchronously in push(), instead of queueing it for
   * next() (values already queued go first); next() then only reports the end. For consumers
   * that deliver at once (a socket write), without a promise per value.
   */
  divert(sink: (value: T) => void): void {
    this.sink = sink;
    for (const value of this.buffer.splice(0)) sink(value);
  }

  push(value: T): void {
    if (this.done) return;
    if (this.sink) return this.sink(value);
    const waiter = this.waiting.shift();
    if (waiter) return waiter({ value, done: false });
    this.buffer.push(value);
    if (this.buffer.length > this.limit) this.buffer.shift();
  }

  /** Ends the iteration for the consumer (after any buffered values). */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.onClose();
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
