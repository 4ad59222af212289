/**
 * graphql-ws (subprotocol graphql-transport-ws) on the /graphql path. The
 * connection authenticates at connection_init (connectionParams.authorization
 * "Bearer <token>", else the session cookie of the upgrade request); a bad
 * token closes it with 4403. Every subscribe is checked as HTTP checks a request
 * (documents.ts: same limits, rules and error codes), then by the guards (rate
 * limits), and run with a fresh context; one socket's documents are checked one
 * at a time (turns.ts); a refused document is charged by size
 * (the `refused` hooks), and 20 that fail parsing or validation within a minute
 * close the socket (1008, invalid-documents.ts). One client address holds at most
 * WS_MAX_CONNECTIONS_PER_IP sockets (1008 past it, connection-cap.ts); identical
 * subscriptions of one viewer share each event's execution, and subscriptions whose result
 * is the same for everyone (productUpdated) share it across viewers and are written straight
 * to their sockets (see shared-execution.ts).
 * A session's sockets close (4401) when it ends: see {@link SessionSockets}.
 */
import type { Server } from 'node:http';
import {
  GraphQLError,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { buildRequestContext, type RequestContext } from '../services/context';
import type { ResolverContext } from '../resolvers/context';
import { tokenFrom } from '../http/cookies';
import { clientIp, isSecure } from '../http/request';
import type { Logger } from '../util/logger';
import type { Metrics } from '../util/metrics';
import { SESSION_ENDED_CLOSE_REASON } from '../util/errors';
import { isRedisUnavailable } from '../redis/connection';
import type { Services } from '../services/container';
import type { SessionRecord } from '../services/sessions/session.service';
import { isApiKey } from '../util/crypto';
import { checkIntervalFor, SessionSockets } from './session-sockets';
import { OriginPolicy } from '../http/origins';
import { makeFormatError } from '../plugins/errors';
import { CAP_CLOSE_CODE, CAP_CLOSE_REASON, ConnectionsPerAddress } from './connection-cap';
import { documentChecker } from './documents';
import { INVALID_CLOSE_CODE, INVALID_CLOSE_REASON, InvalidDocuments } from './invalid-documents';
import { Turns } from './turns';
import { everyoneShareKey, shareKeyOf, shareResultsBy, sharedSubscribe } from './shared-execution';

/** Per-connection state kept in graphql-ws's `extra`. */
export interface ConnectionState {
  token: string | null;
  session: SessionRecord | null;
  /** Subscriptions this socket has open now. */
  open: Set<string>;
  /** Free-form per-connection data for guards. */
  data: Map<string, unknown>;
  /** Documents that failed parsing or validation lately (too many close the socket). */
  invalid: InvalidDocuments;
  /** Its documents are checked one at a time. */
  turns: Turns;
}

/** The subscribe operation a guard decides on. */
export interface SubscribeRequest {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
  cost: number;
}

/** Runs before each subscribe operation; throws a GraphQLError to refuse it. */
export type SubscribeGuard = (ctx: RequestContext, op: SubscribeRequest, conn: ConnectionState, extra: Extra) => Promise<void>;

/** Runs for each document refused before execution (parse, validation, limits, cost), with its size in bytes. */
export type RefusedHook = (ctx: RequestContext, bytes: number) => Promise<void>;

export interface WsDeps {
  server: Server;
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  metrics: Metrics;
  guards: SubscribeGuard[];
  refused: RefusedHook[];
}

export interface WsHandle {
  /** Closes every socket (1001 going away) and stops accepting. */
  close(): Promise<void>;
  connections(): number;
}

type Ex = Extra & { state?: ConnectionState };

/** How long shutdown waits for WebSocket clients to answer the close frame before cutting them off. */
const WS_CLOSE_GRACE_MS = 2000;

export async function startWebSocket(deps: WsDeps): Promise<WsHandle> {
  const { services, log, schema } = deps;
  const { config } = services;
  const origins = new OriginPolicy(config.http.corsOrigins, config.http.trustedProxies);
  const wss = new WebSocketServer({
    server: deps.server,
    path: '/graphql',
    maxPayload: config.http.bodyLimitBytes,
    // Browsers apply no CORS to WebSockets, and the upgrade carries the session cookie: a page on
    // another site could act as the user. Refused with 403 before the upgrade (contract "WebSocket origin").
    verifyClient: ({ req }, done) => {
      if (origins.allowsUpgrade(req)) return done(true);
      log.debug({ origin: String(req.headers.origin ?? req.headers['sec-websocket-origin']).slice(0, 200) }, 'WebSocket upgrade refused: origin not allowed');
      done(false, 403, 'Forbidden');
    },
  });
  const sessionSockets = new SessionSockets(checkIntervalFor(config.sessions.idleTtlMs));
  const checkDocument = documentChecker(schema, config);
  const formatError = makeFormatError(config.production);
  const perAddress = new ConnectionsPerAddress(config.http.wsMaxConnectionsPerIp);
  /** A result as the client gets it: errors formatted (masked in production). */
  const formatResult = (result: ExecutionResult): ExecutionResult | FormattedExecutionResult =>
    result.errors?.length ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) } : result;

  // Before graphql-ws's own listener: a socket past the cap is closed before it can say anything.
  wss.on('connection', (socket, req) => {
    const address = clientIp(req, config.http.trustedProxies);
    if (!perAddress.admit(address)) {
      socket.close(CAP_CLOSE_CODE, CAP_CLOSE_REASON);
      return;
    }
    socket.once('close', () => perAddress.release(address));
  });

  await sessionSockets.start(services.pubsub);

  const contextFor = (extra: Ex): RequestContext => {
    const req = extra.request;
    const ctx = buildRequestContext(services, log, {
      ip: clientIp(req, config.http.trustedProxies),
      userAgent: req.headers['user-agent'],
      secure: isSecure(req, config.http.trustedProxies),
      token: extra.state?.token ?? null,
    });
    return ctx;
  };

  const disposable = useServer<Record<string, unknown> | undefined, { state: ConnectionState }>(
    {
      schema,
      subscribe: sharedSubscribe,
      onConnect: async (ctx) => {
        const extra = ctx.extra;
        const param = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const token = typeof param === 'string' ? tokenFrom(param, undefined) : tokenFrom(undefined, extra.request.headers.cookie);
        const state: ConnectionState = { token, session: null, open: new Set(), data: new Map(), invalid: new InvalidDocuments(), turns: new Turns() };
        extra.state = state;
        if (typeof param === 'string' && !token) return false;
        if (token && isApiKey(token)) {
          // A service's key: no session, no user-agent check; its sockets close when it is revoked.
          try {
            const key = await contextFor(extra).apiKey();
            if (!key) return false;
            sessionSockets.addKey(key, extra.socket, () => contextFor(extra).apiKey());
            // As for sessions below: a revocation announced before addKey() went unseen.
            if (!(await services.apiKeys.isLive(key))) return false;
          } catch (err) {
            if (!isRedisUnavailable(err)) throw err;
            extra.socket.close(1013, 'Service temporarily unavailable');
            return false;
          }
        } else if (token) {
          try {
            const checked = contextFor(extra);
            const session = await checked.session();
            if (!session) {
              // Say why, where the client can read it: graphql-ws's own refusal says only "Forbidden".
              if (checked.sessionEnded()) extra.socket.close(4403, SESSION_ENDED_CLOSE_REASON);
              return false;
            }
            state.session = session;
            sessionSockets.add(session, extra.socket, () => contextFor(extra).session());
            // A revocation announced between the check above and add() went unseen by the
            // listener; it deletes the session before announcing, so a second look catches it.
            if (!(await services.sessions.isLive(session))) return false;
          } catch (err) {
            if (!isRedisUnavailable(err)) throw err;
            // The session cannot be checked now: 1013 (try again later) tells the client to
            // reconnect, where an error thrown here would close with 4500 as if we had a bug.
            extra.socket.close(1013, 'Service temporarily unavailable');
            return false;
          }
        }
        deps.metrics.wsConnections.inc();
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const extra = ctx.extra;
        const state = extra.state!;
        const request = contextFor(extra);
        const variables = payload.variables ?? {};
        const checked = await state.turns.take(() => (extra.socket.readyState === extra.socket.OPEN ? checkDocument(payload) : null));
        // Closed while this message waited its turn (e.g. by the invalid-document limit): not worth checking.
        if (!checked) return [new GraphQLError('The connection is closed')];
        if (!checked.ok) {
          const tooMany = checked.invalid && state.invalid.record();
          for (const hook of deps.refused) await hook(request, Buffer.byteLength(payload.query));
          // Once graphql-ws has sent this document's errors (in the microtasks that follow the return).
          if (tooMany) setImmediate(() => extra.socket.close(INVALID_CLOSE_CODE, INVALID_CLOSE_REASON));
          return checked.errors;
        }
        const { document, operation, cost } = checked;
        request.cost = cost;
        try {
          const op: SubscribeRequest = { schema, document, operation, variables, cost };
          for (const guard of deps.guards) await guard(request, op, state, extra);
        } catch (err) {
          if (err instanceof GraphQLError) return [err];
          throw err;
        }
        state.open.add(id);
        const contextValue: ResolverContext = { ctx: request, services };
        const everyone = everyoneShareKey(schema, document, operation, variables);
        if (everyone) shareResultsBy(contextValue, everyone, { socket: extra.socket, id, format: formatResult });
        else shareResultsBy(contextValue, shareKeyOf(state.token, payload.query, payload.operationName, variables));
        const args: ExecutionArgs = { schema, document, variableValues: variables, operationName: payload.operationName, contextValue };
        return args;
      },
      onComplete: (ctx, id) => {
        ctx.extra.state?.open.delete(id);
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((e) => formatError(e.toJSON(), e)),
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors?.length ? formatResult(result) : undefined),
    },
    wss,
    10_000,
  );

  return {
    connections: () => wss.clients.size,
    async close() {
      sessionSockets.stop();
      for (const socket of wss.clients) socket.close(1001, 'Server shutting down');
      // A client that never answers the close handshake would hold shutdown for ws's 30 s close timeout.
      const cutOff = setTimeout(() => {
        for (const socket of wss.clients) socket.terminate();
      }, WS_CLOSE_GRACE_MS);
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      clearTimeout(cutOff);
    },
  };
}
