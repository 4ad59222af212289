/**
 * Subscription execution shared between identical subscribers. graphql-js runs
 * `execute` once per event per subscriber; a dashboard fan-out (hundreds of
 * sockets with the same subscription) spent most of its time there. The pub/sub
 * layer hands every local listener the same payload object, so the result of
 * executing one document with one set of variables for one viewer (token) on
 * that payload is computed once and handed to each of them.
 *
 * Only subscribers with the same token, document text, operation name and
 * variables share a result, so nothing a resolver could base on the viewer
 * crosses between viewers. Payloads that are not objects are executed per
 * subscriber, as graphql-js would.
 */
import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Payload -> share key -> result. Entries go with the payload object once every subscriber has moved on. */
const results = new WeakMap<object, Map<string, Result>>();

/** The share key of each subscription's context (set in onSubscribe). */
const shareKeys = new WeakMap<object, string>();

/** Marks the subscription run with `contextValue` as sharing results with others of the same key. */
export function shareResultsBy(contextValue: object, key: string): void {
  shareKeys.set(contextValue, key);
}

/** The key under which identical subscriptions share results. */
export const shareKeyOf = (token: string | null, query: string, operationName: string | null | undefined, variables: Record<string, unknown>): string =>
  `${token ?? ''}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${query}`;

function resultFor(args: ExecutionArgs, key: string | undefined, payload: unknown): Result {
  if (key === undefined || typeof payload !== 'object' || payload === null) return execute({ ...args, rootValue: payload });
  let byKey = results.get(payload);
  if (!byKey) results.set(payload, (byKey = new Map<string, Result>()));
  let result = byKey.get(key);
  if (!result) {
    result = execute({ ...args, rootValue: payload });
    byKey.set(key, result);
  }
  return result;
}

/**
 * graphql-js's `subscribe`, with each event's execution shared as described above. The
 * iterator is a plain object (like graphql-js's own), so `return()` ends the source at once
 * instead of waiting for its next event as an async generator would.
 */
export async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const it = source[Symbol.asyncIterator]();
  const key = typeof args.contextValue === 'object' && args.contextValue !== null ? shareKeys.get(args.contextValue) : undefined;
  const map = async (r: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult>> =>
    r.done ? { done: true, value: undefined } : { done: false, value: await resultFor(args, key, r.value) };
  const self: AsyncIterableIterator<ExecutionResult> = {
    next: () => it.next().then(map),
    return: () => (it.return ? it.return() : Promise.resolve()).then(() => ({ done: true, value: undefined })),
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the caller's reason through unchanged
    throw: (err?: unknown) => (it.throw ? it.throw(err).then(map) : Promise.reject(err)),
    [Symbol.asyncIterator]: () => self,
  };
  return self;
}
