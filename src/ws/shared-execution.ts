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
 * socket, where the payload text is serialised once per event and share key. graphql-ws sees
 * an iterator that only ends; per subscriber an event costs a string concatenation and the
 * socket write, not a promise chain and a JSON.stringify. A socket whose unsent data passes
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
/** Payload -> share key -> serialised `payload` of the next message (everyone-shared keys only). */
const texts = new WeakMap<object, Map<string, string | Promise<string>>>();

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

/** The serialised `payload` of the message for this event and key: once per event and key. */
function textFor(args: ExecutionArgs, key: string, payload: object, format: DirectDelivery['format']): string | Promise<string> {
  let byKey = texts.get(payload);
  if (!byKey) texts.set(payload, (byKey = new Map<string, string | Promise<string>>()));
  let text = byKey.get(key);
  if (text === undefined) {
    const result = execute({ ...args, rootValue: payload });
    text = result instanceof Promise ? result.then((r) => JSON.stringify(format(r))) : JSON.stringify(format(result));
    byKey.set(key, text);
  }
  return text;
}

/** Writes the events of `source` straight to the subscriber's socket (see the header). */
function deliverDirectly(source: PushIterator<unknown>, args: ExecutionArgs, key: string, to: DirectDelivery): AsyncIterableIterator<ExecutionResult> {
  const { socket } = to;
  const head = `{"id":${JSON.stringify(to.id)},"type":"next","payload":`;
  const write = (text: string): void => {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.close(SLOW_CLOSE_CODE, SLOW_CLOSE_REASON);
      void source.return();
      return;
    }
    socket.send(`${head}${text}}`);
  };
  // Results that need a promise (an async resolver) are written in event order behind one chain.
  let chain: Promise<void> | null = null;
  source.divert((payload) => {
    if (typeof payload !== 'object' || payload === null) return;
    const text = textFor(args, key, payload, (r) => to.format(r));
    if (typeof text === 'string' && !chain) return write(text);
    const next: Promise<void> = (chain ?? Promise.resolve())
      .then(() => text)
      .then(write, () => undefined)
      .finally(() => {
        if (chain === next) chain = null;
      });
    chain = next;
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
