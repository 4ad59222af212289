/** A benchmark's HTTP server on 127.0.0.1: listening on a free port, and closed with its connections. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on a free port of 127.0.0.1 with the keep-alive a load generator expects (65 s); `close`
 * drops every connection, waits for the server to close, then runs `cleanup` (its Redis client, ...).
 */
export async function listenOnLoopback(server: Server, cleanup: () => void | Promise<void>): Promise<LoopbackServer> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cleanup();
    },
  };
}
