/** A real graphql-ws client for subscription tests. */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface WsOptions {
  token?: string;
  cookie?: string;
  /** Extra upgrade headers, e.g. `x-forwarded-for` to speak from another address through a trusted proxy. */
  headers?: Record<string, string>;
}

export function wsClient(httpUrl: string, opts: WsOptions = {}): Client {
  const url = httpUrl.replace(/^http/, 'ws') + '/graphql';
  class AuthedWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      // The same user agent as gqlRequest, so a token obtained over HTTP passes the session's user-agent check.
      super(address, protocols, { headers: { 'user-agent': 'node-test', ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers } });
    }
  }
  return createClient({
    url,
    webSocketImpl: AuthedWebSocket,
    connectionParams: opts.token ? { authorization: `Bearer ${opts.token}` } : undefined,
    retryAttempts: 0,
    lazy: true,
  });
}

/** Collects events of one subscription until `count` arrive or `timeoutMs` passes. */
export function collect<T = unknown>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
  count = 1,
  timeoutMs = 5000,
): { done: Promise<T[]>; events: T[]; errors: unknown[]; stop(): void } {
  const events: T[] = [];
  const errors: unknown[] = [];
  let stop: () => void = () => {};
  const done = new Promise<T[]>((resolve) => {
    const timer = setTimeout(() => {
      stop();
      resolve(events);
    }, timeoutMs);
    stop = client.subscribe<T>(
      { query, variables },
      {
        next: (v) => {
          if (v.errors) errors.push(...v.errors);
          if (v.data) events.push(v.data);
          if (events.length >= count) {
            clearTimeout(timer);
            stop();
            resolve(events);
          }
        },
        error: (e) => {
          errors.push(e);
          clearTimeout(timer);
          resolve(events);
        },
        complete: () => {
          clearTimeout(timer);
          resolve(events);
        },
      },
    );
  });
  return { done, events, errors, stop: () => stop() };
}

/** Runs one query or mutation over the socket: its result, or the errors it was refused with. */
export function execute<T = Record<string, any>>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, any> }> }> {
  return new Promise((resolve) => {
    let result: { data?: T | null; errors?: Array<{ message: string; extensions?: Record<string, any> }> } = {};
    client.subscribe<T>(
      { query, variables },
      {
        next: (v) => (result = v as typeof result),
        error: (e) => resolve({ errors: (Array.isArray(e) ? e : [e]) as NonNullable<typeof result.errors> }),
        complete: () => resolve(result),
      },
    );
  });
}

/** A non-lazy connection: it connects at once, so a close is visible without any subscription. */
export interface WsConnection {
  client: Client;
  /** Resolves when the server acknowledged connection_init. */
  connected: Promise<void>;
  /** Resolves with the close code (and reason). */
  closed: Promise<number>;
  closeReason(): string;
  isClosed(): boolean;
}

/** Opens a graphql-ws connection at once with `params` as connectionParams (and a cookie, a URL query, upgrade headers). */
export function wsConnect(
  httpUrl: string,
  opts: { params?: Record<string, unknown>; cookie?: string; query?: string; headers?: Record<string, string> } = {},
): WsConnection {
  const url = `${httpUrl.replace(/^http/, 'ws')}/graphql${opts.query ?? ''}`;
  class Socket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'user-agent': 'node-test', ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers } });
    }
  }
  let onConnected!: () => void;
  let onClosed!: (code: number) => void;
  let closedFlag = false;
  let reason = '';
  const connected = new Promise<void>((r) => (onConnected = r));
  const closed = new Promise<number>((r) => (onClosed = r));
  const client = createClient({
    url,
    webSocketImpl: Socket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: opts.params,
    onNonLazyError: () => {},
    on: {
      connected: () => onConnected(),
      closed: (e) => {
        closedFlag = true;
        reason = String((e as { reason?: string }).reason ?? '');
        onClosed((e as { code: number }).code);
      },
    },
  });
  return { client, connected, closed, closeReason: () => reason, isClosed: () => closedFlag };
}
