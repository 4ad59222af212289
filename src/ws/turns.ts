/**
 * One document of a connection checked at a time, each after a turn of the event loop.
 * graphql-ws starts a subscribe's handling as soon as its message arrives, and checking a
 * document (parsing, validation, cost) is synchronous: 50 documents sent at once on one
 * socket held every other client for all 50 checks. Taking turns, a socket holds the
 * gateway for one document at most, like an HTTP/1.1 connection, which is answered one
 * request at a time.
 */
export class Turns {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` once every earlier call has finished, after other pending I/O has had its turn. */
  take<T>(fn: () => T): Promise<T> {
    const run = this.tail.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
