/**
 * Counts, per WebSocket connection, the documents that failed parsing, the shape check or
 * validation. A socket sending {@link MAX_INVALID_DOCUMENTS} of them within
 * {@link INVALID_WINDOW_MS} is closed with 1008 (policy violation): every such document
 * costs the gateway parsing (and validation) while what it is charged only slows its
 * sender, and a client that keeps sending broken documents is broken or probing.
 */
export const MAX_INVALID_DOCUMENTS = 20;
export const INVALID_WINDOW_MS = 60_000;
export const INVALID_CLOSE_CODE = 1008;
export const INVALID_CLOSE_REASON = `More than ${MAX_INVALID_DOCUMENTS - 1} invalid documents in a minute`;

export class InvalidDocuments {
  /** When the last ones arrived, oldest first; never more than MAX_INVALID_DOCUMENTS. */
  private readonly times: number[] = [];

  /** Records one; true when it is the MAX_INVALID_DOCUMENTS-th within the window. */
  record(now = Date.now()): boolean {
    this.times.push(now);
    if (this.times.length > MAX_INVALID_DOCUMENTS) this.times.shift();
    return this.times.length === MAX_INVALID_DOCUMENTS && now - this.times[0] < INVALID_WINDOW_MS;
  }
}
