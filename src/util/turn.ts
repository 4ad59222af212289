/**
 * The end of the current turn of the event loop, shared by everything that waits for it in that
 * turn: one `setImmediate` per turn, however many callers.
 *
 * The HTTP layer runs the GraphQL requests that arrived in one turn together, at its end
 * (src/http/graphql.ts). Answering each request in the turn it arrived costs the process more CPU
 * per request than answering a turn's worth at once: measured with `npm run bench -- me` (2-core
 * VM, 50 connections, the session and user cached so the request does no I/O), 200 against 62–91
 * µs of gateway CPU per request, and 0.48 against 1.11–1.18 of the raw server's throughput, in
 * alternating runs (docs/performance.md, "What changed"). A request waits at most one turn more.
 */
let pending: Promise<void> | null = null;

export function endOfTurn(): Promise<void> {
  return (pending ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      pending = null;
      resolve();
    }),
  ));
}
