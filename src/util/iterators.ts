/** Small async-iterator helpers for subscriptions, cheaper per event than generator or Repeater pipelines. */

/**
 * A view of `source` that skips values `keep` refuses and calls `onEnd` once
 * when the consumer stops. A plain object, not an async generator: a
 * generator's return() would wait for the next value before running.
 */
export function filtered<T>(source: AsyncIterable<T>, keep: (value: T) => boolean, onEnd: () => void = () => {}): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (): void => {
    if (!ended) {
      ended = true;
      onEnd();
    }
  };
  const self: AsyncIterableIterator<T> = {
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) end();
        if (r.done || keep(r.value)) return r;
      }
    },
    return(value?: unknown) {
      end();
      return it.return ? it.return(value) : Promise.resolve({ done: true, value: undefined });
    },
    throw(err?: unknown) {
      end();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the caller's reason through unchanged
      return it.throw ? it.throw(err) : Promise.reject(err);
    },
    [Symbol.asyncIterator]: () => self,
  };
  return self;
}
