/**
 * The gateway's own plugins, given to Apollo as one plugin with one request listener.
 *
 * Apollo runs each hook of a request over every listener, whether or not the listener has that
 * hook: an entry in a `Promise.all` per hook, an async call per listener for parsing and
 * validation, and one awaited call after another for `responseForOperation`. Its price grows
 * with the number of listeners (docs/performance.md, "Plugins"). Composed, a request has one
 * listener; each hook calls only the plugins that use it, in their order, and makes no promise
 * unless one of them answers with one.
 *
 * A gateway plugin keeps one listener ({@link GatewayPlugin.hooks}) for every request; its hooks
 * may answer at once (no promise). Only the hooks the gateway uses are composed (the type names
 * them); a plugin needing another stays a plain Apollo plugin.
 */
import type {
  ApolloServerPlugin,
  BaseContext,
  GraphQLRequestContext,
  GraphQLRequestContextDidEncounterErrors,
  GraphQLRequestContextDidResolveOperation,
  GraphQLRequestContextDidResolveSource,
  GraphQLRequestContextParsingDidStart,
  GraphQLRequestContextValidationDidStart,
  GraphQLRequestContextWillSendResponse,
  GraphQLRequestListener,
  GraphQLRequestListenerParsingDidEnd,
  GraphQLRequestListenerValidationDidEnd,
  GraphQLServerContext,
} from '@apollo/server';

/** The answer of a hook that has nothing to wait for: one settled promise, shared (not counted as pending). */
export const DONE: Promise<void> = Promise.resolve();

type Answer = void | Promise<void>;

/** A request's hooks, as a gateway plugin answers them: at once, or with a promise. */
export interface RequestHooks<T extends BaseContext> {
  didResolveSource?(rc: GraphQLRequestContextDidResolveSource<T>): Answer;
  /** Answers with what runs when parsing ends (at once: no promise). */
  parsingDidStart?(rc: GraphQLRequestContextParsingDidStart<T>): GraphQLRequestListenerParsingDidEnd | void;
  validationDidStart?(rc: GraphQLRequestContextValidationDidStart<T>): GraphQLRequestListenerValidationDidEnd | void;
  didResolveOperation?(rc: GraphQLRequestContextDidResolveOperation<T>): Answer;
  didEncounterErrors?(rc: GraphQLRequestContextDidEncounterErrors<T>): Answer;
  willSendResponse?(rc: GraphQLRequestContextWillSendResponse<T>): Answer;
}

export interface GatewayPlugin<T extends BaseContext> {
  /** Once, when the server starts. */
  serverWillStart?(service: GraphQLServerContext): Promise<void>;
  /** Work begun when a request starts, not waited for (a lookup that later hooks will need). */
  requestDidStart?(rc: GraphQLRequestContext<T>): void;
  /** The hooks of every request (one object for all of them); none: the plugin listens to no request. */
  readonly hooks?: RequestHooks<T>;
}

const nothing = (): void => undefined;

/** Calls each hook in order; a hook that throws rejects the answer, and the others still run (as in Apollo). */
function each<A>(fns: ReadonlyArray<(rc: A) => Answer>): ((rc: A) => Promise<void>) | undefined {
  if (fns.length === 0) return undefined;
  return (rc) => {
    let pending: Array<Promise<void>> | null = null;
    for (const fn of fns) {
      let answer: Answer;
      try {
        answer = fn(rc);
      } catch (err) {
        answer = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      if (answer && answer !== DONE) (pending ??= []).push(answer);
    }
    if (!pending) return DONE;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(nothing);
  };
}

/** Calls each "did start" hook in order; what they answer runs when the phase ends, last first (as in Apollo). */
function started<A, E extends (...args: never[]) => Promise<void>>(fns: ReadonlyArray<(rc: A) => E | void>): ((rc: A) => Promise<E | void>) | undefined {
  if (fns.length === 0) return undefined;
  return (rc) => {
    let ends: E[] | null = null;
    for (const fn of fns) {
      const end = fn(rc);
      if (end) (ends ??= []).unshift(end);
    }
    if (!ends) return DONE;
    const all = ends;
    return Promise.resolve(((...args: Parameters<E>) => {
      for (const end of all) void end(...args);
      return DONE;
    }) as E);
  };
}

/** One listener calling the hooks of `plugins` that have each hook, in order. */
function composeHooks<T extends BaseContext>(hooks: ReadonlyArray<RequestHooks<T>>): GraphQLRequestListener<T> {
  const of = <K extends keyof RequestHooks<T>>(name: K): Array<NonNullable<RequestHooks<T>[K]>> =>
    hooks.flatMap((h) => {
      const fn = h[name];
      return fn ? [fn.bind(h) as NonNullable<RequestHooks<T>[K]>] : [];
    });
  const listener: GraphQLRequestListener<T> = {};
  const set = <K extends keyof GraphQLRequestListener<T>>(name: K, fn: GraphQLRequestListener<T>[K] | undefined): void => {
    if (fn) listener[name] = fn;
  };
  set('didResolveSource', each(of('didResolveSource')));
  set('parsingDidStart', started(of('parsingDidStart')));
  set('validationDidStart', started(of('validationDidStart')));
  set('didResolveOperation', each(of('didResolveOperation')));
  set('didEncounterErrors', each(of('didEncounterErrors')));
  set('willSendResponse', each(of('willSendResponse')));
  return listener;
}

/** `plugins` as one Apollo plugin: their server starts together, and each request gets one listener. */
export function composePlugins<T extends BaseContext>(plugins: ReadonlyArray<GatewayPlugin<T>>): ApolloServerPlugin<T> {
  const withHooks = plugins.flatMap((p) => (p.hooks ? [p.hooks] : []));
  const starts = plugins.filter((p) => p.requestDidStart !== undefined);
  const answer: Promise<GraphQLRequestListener<T> | void> = withHooks.length ? Promise.resolve(composeHooks(withHooks)) : DONE;
  return {
    async serverWillStart(service) {
      await Promise.all(plugins.map((p) => p.serverWillStart?.(service) ?? DONE));
    },
    requestDidStart(rc) {
      try {
        for (const p of starts) p.requestDidStart!(rc);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      return answer;
    },
  };
}
