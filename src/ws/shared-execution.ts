/**
 * Subscription execution shared between subscribers whose results cannot differ. graphql-js
 * runs `execute` once per event per subscriber; a dashboard fan-out (hundreds of sockets with
 * the same subscription) spent most of its time there. The pub/sub layer hands every local
 * listener the same payload object, so the result of executing one selection on that payload
 * is computed once per share key and handed to each subscriber of that key.
 *
 * Two kinds of share key:
 * - per viewer ({@link shareKeyOf}): the same token, document text, operation name and
 *   variables. Nothing a resolver could base on the viewer crosses between viewers.
 * - for everyone ({@link everyoneShareKey}): for a root field marked `@SameForEveryone`
 *   (its result is a function of the event alone, see types/same-for-everyone.ts), whose
 *   selection reads only plain fields. The key is the selection itself (alias, fields,
 *   fragments, the variables used inside it), without the token and without the root field's
 *   arguments (they only choose which events arrive). Anonymous and signed-in subscribers with
 *   the same selection share one execution per event.
 *
 * Everyone-shared subscriptions are also delivered directly: their source (a PushIterator)
 * hands each event to a sink that writes `{"id":…,"type":"next","payload":<shared>}` to the
 * socket, where the payload is serialised and encoded once per event and share key. graphql-ws
 * sees an iterator that only ends; per subscriber an event costs copying ~100 bytes into a frame
 * and the socket write, not a promise chain, a JSON.stringify and a UTF-8 encoding. A socket whose unsent data passes
 * {@link MAX_BUFFERED_BYTES} (a client that does not read) is closed (1013) rather than
 * buffered without end.
 *
 * Payloads that are not objects are executed per subscriber, as graphql-js would.
 */
import {
  Kind,
  OperationTypeNode,
  createSourceEventStream,
  execute,
  getNamedType,
  isObjectType,
  print,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FormattedExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { WebSocket } from 'ws';
import { PushIterator } from '../util/push-iterator';
import { isSameForEveryone, plainFieldsOf } from '../types/same-for-everyone';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Where an everyone-shared subscription's messages go: its socket, its graphql-ws id, and how errors are shown. */
export interface DirectDelivery {
  socket: WebSocket;
  id: string;
  /** The result as the client gets it (errors formatted as the onNext hook formats them). */
  format(result: ExecutionResult): ExecutionResult | FormattedExecutionResult;
}

interface Sharing {
  key: string;
  direct?: DirectDelivery;
}

/** A socket with more unsent bytes than this is not reading: it is closed instead of buffered without end. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
export const SLOW_CLOSE_CODE = 1013;
export const SLOW_CLOSE_REASON = 'Messages are piling up unread; reconnect';

/** Payload -> share key -> result. Entries go with the payload object once every subscriber has moved on. */
const results = new WeakMap<object, Map<string, Result>>();

/** The sharing of each subscription's context (set in onSubscribe). */
const sharings = new WeakMap<object, Sharing>();

/**
 * Marks the subscription run with `contextValue` as sharing results with others of the same key;
 * with `direct`, its messages are written straight to its socket (everyone-shared keys only).
 */
export function shareResultsBy(contextValue: object, key: string, direct?: DirectDelivery): void {
  sharings.set(contextValue, direct ? { key, direct } : { key });
}

/** The key under which identical subscriptions of one viewer share results. */
export const shareKeyOf = (token: string | null, query: string, operationName: string | null | undefined, variables: Record<string, unknown>): string =>
  `${token ?? ''}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables)}\u0000${query}`;

/**
 * The key under which every subscriber of this selection shares results, whoever it is: set
 * when the operation is a subscription of one `@SameForEveryone` root field (no directive on it),
 * selecting plain fields of object types only (else null: share per viewer).
 */
export function everyoneShareKey(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
): string | null {
  if (operation.operation !== OperationTypeNode.SUBSCRIPTION) return null;
  const [root, ...more] = operation.selectionSet.selections;
  if (!root || more.length || root.kind !== Kind.FIELD || root.directives?.length) return null;
  const def = schema.getSubscriptionType()?.getFields()[root.name.value];
  if (!def || !isSameForEveryone(def)) return null;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const used = new Set<string>();
  const plainFields = plainFieldsOf(schema);

  const plain = (set: SelectionSetNode | undefined, type: GraphQLNamedType | undefined | null): boolean => {
    if (!set) return true;
    if (!type || !isObjectType(type)) return false;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value === '__typename') continue;
        const field = type.getFields()[s.name.value];
        if (!field || !plainFields.has(`${type.name}.${field.name}`)) return false;
        if (!plain(s.selectionSet, getNamedType(field.type))) return false;
      } else if (s.kind === Kind.INLINE_FRAGMENT) {
        const on = s.typeCondition ? schema.getType(s.typeCondition.name.value) : type;
        if (!plain(s.selectionSet, on)) return false;
      } else {
        const name = s.name.value;
        if (used.has(name)) continue;
        used.add(name);
        const fragment = fragments.get(name);
        if (!fragment || !plain(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value))) return false;
      }
    }
    return true;
  };
  if (!plain(root.selectionSet, getNamedType(def.type))) return null;

  const selection: FieldNode = { ...root, arguments: [] };
  const parts = [selection, ...[...used].sort().map((n) => fragments.get(n)!)];
  const names = new Set<string>();
  for (const node of parts) visit(node, { Variable: (v) => void names.add(v.name.value) });
  const varNames = [...names].sort();
  return JSON.stringify([
    'everyone',
    parts.map((node) => print(node)),
    // A variable's default lives in the operation's header: part of what the selection reads.
    (operation.variableDefinitions ?? []).filter((d) => names.has(d.variable.name.value)).map((d) => print(d)),
    varNames.map((n) => [n, variables[n] ?? null]),
  ]);
}

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
 * The serialised `payload` of one event's message for one key, computed once for every subscriber
 * of the key, as UTF-8 with the message's closing brace. `body` is null while the execution is
 * pending (an async resolver); the subscribers that wait for it are listed in `waiting` and
 * flushed together when it settles.
 */
interface SharedBody {
  body: Buffer | null;
  waiting: DirectSubscriber[] | null;
}

/** Payload -> share key -> its shared body (everyone-shared keys only). */
const bodies = new WeakMap<object, Map<string, SharedBody>>();
const EMPTY = Buffer.alloc(0);

function sharedBody(args: ExecutionArgs, key: string, payload: object, format: DirectDelivery['format']): SharedBody {
  let byKey = bodies.get(payload);
  if (!byKey) bodies.set(payload, (byKey = new Map<string, SharedBody>()));
  let shared = byKey.get(key);
  if (shared) return shared;
  const encode = (r: ExecutionResult): Buffer => Buffer.from(`${JSON.stringify(format(r))}}`);
  const result = execute({ ...args, rootValue: payload });
  if (!(result instanceof Promise)) {
    shared = { body: encode(result), waiting: null };
  } else {
    const pending: SharedBody = (shared = { body: null, waiting: [] });
    const settle = (body: Buffer): void => {
      pending.body = body;
      const waiting = pending.waiting ?? [];
      pending.waiting = null;
      for (const sub of waiting) sub.flush();
    };
    // execute reports resolver errors in its result; a rejection would be a bug: nothing is sent then.
    result.then(
      (r) => settle(encode(r)),
      () => settle(EMPTY),
    );
  }
  byKey.set(key, shared);
  return shared;
}

/** The parts of a `ws` socket a direct write needs (ws 8 keeps them as these fields). */
interface WsInternals {
  _socket?: { writable: boolean; write(chunk: Buffer): boolean };
  _sender?: { _queue?: unknown[] };
}

/**
 * One everyone-shared subscription written straight to its socket, its messages in event order.
 * A message is one unmasked text frame built here (a server's frames are never masked): the
 * frame header, this subscription's `{"id":…,"type":"next","payload":` and the shared body,
 * copied into one buffer and written to the TCP socket in one call. That is what ws's own send
 * does, minus re-encoding the text per socket; it is used only while ws has nothing queued (no
 * compression on this server), so frames never interleave. Otherwise, ws's send.
 */
class DirectSubscriber {
  /** Events whose body was pending when they came, in order (null when none). */
  private backlog: SharedBody[] | null = null;
  private readonly prefix: Buffer;

  constructor(
    private readonly to: DirectDelivery,
    private readonly source: PushIterator<unknown>,
  ) {
    this.prefix = Buffer.from(`{"id":${JSON.stringify(to.id)},"type":"next","payload":`);
  }

  offer(shared: SharedBody): void {
    if (!this.backlog && shared.body !== null) return this.write(shared.body);
    (this.backlog ??= []).push(shared);
    if (shared.body === null) shared.waiting!.push(this);
  }

  flush(): void {
    const backlog = this.backlog;
    if (!backlog) return;
    while (backlog.length && backlog[0].body !== null) this.write(backlog.shift()!.body!);
    if (!backlog.length) this.backlog = null;
  }

  private write(body: Buffer): void {
    const { socket } = this.to;
    if (!body.length || socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.close(SLOW_CLOSE_CODE, SLOW_CLOSE_REASON);
      void this.source.return();
      return;
    }
    const { _socket: raw, _sender: sender } = socket as unknown as WsInternals;
    const prefix = this.prefix;
    if (!raw?.writable || sender?._queue?.length !== 0) {
      socket.send(Buffer.concat([prefix, body]), { binary: false });
      return;
    }
    const length = prefix.length + body.length;
    const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(header + length);
    frame[0] = 0x81; // FIN, text
    if (header === 2) frame[1] = length;
    else if (header === 4) {
      frame[1] = 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 127;
      frame.writeUInt32BE(0, 2);
      frame.writeUInt32BE(length, 6);
    }
    prefix.copy(frame, header);
    body.copy(frame, header + prefix.length);
    raw.write(frame);
  }
}

/** Writes the events of `source` straight to the subscriber's socket (see the header). */
function deliverDirectly(source: PushIterator<unknown>, args: ExecutionArgs, key: string, to: DirectDelivery): AsyncIterableIterator<ExecutionResult> {
  const sub = new DirectSubscriber(to, source);
  const format = (r: ExecutionResult): ExecutionResult | FormattedExecutionResult => to.format(r);
  source.divert((payload) => {
    if (typeof payload === 'object' && payload !== null) sub.offer(sharedBody(args, key, payload, format));
  });
  const self: AsyncIterableIterator<ExecutionResult> = {
    // Nothing is queued any more: next() settles when the source ends.
    next: () => source.next().then(() => ({ done: true, value: undefined })),
    return: () => source.return().then(() => ({ done: true, value: undefined })),
    throw: () => source.return().then(() => ({ done: true, value: undefined })),
    [Symbol.asyncIterator]: () => self,
  };
  return self;
}

/**
 * graphql-js's `subscribe`, with each event's execution shared as described above. The
 * iterator is a plain object (like graphql-js's own), so `return()` ends the source at once
 * instead of waiting for its next event as an async generator would.
 */
export async function sharedSubscribe(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const sharing = typeof args.contextValue === 'object' && args.contextValue !== null ? sharings.get(args.contextValue) : undefined;
  if (sharing?.direct && source instanceof PushIterator) return deliverDirectly(source as PushIterator<unknown>, args, sharing.key, sharing.direct);
  const it = source[Symbol.asyncIterator]();
  const key = sharing?.key;
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
