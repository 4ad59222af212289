/**
 * Open WebSocket connections per client address, on this instance. Each socket holds memory
 * (the connection, graphql-ws's state, its subscriptions) and a file descriptor: one address
 * may hold at most WS_MAX_CONNECTIONS_PER_IP (default 100) of them. Counted per instance on
 * purpose: what a socket costs is this instance's memory, and a count in Redis would outlive
 * an instance that dies without closing its sockets.
 */
export const CAP_CLOSE_CODE = 1008;
export const CAP_CLOSE_REASON = 'Too many WebSocket connections from this address';

export class ConnectionsPerAddress {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Counts a new connection from `address`; false (and nothing counted) when it already holds the maximum. */
  admit(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = (this.open.get(address) ?? 0) - 1;
    if (n > 0) this.open.set(address, n);
    else this.open.delete(address);
  }

  /** Addresses with a connection open now. */
  get addresses(): number {
    return this.open.size;
  }
}
