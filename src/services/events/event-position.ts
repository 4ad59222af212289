/**
 * Positions in the merged domain event streams, and the cursors the domainEvents subscription
 * hands out. Every domain has its own stream; together they are read in one order: by entry id,
 * and between entries of equal id (two streams can each get `<ms>-0` in the same millisecond) by
 * the stream's rank, {@link DOMAIN_ORDER}.
 *
 * A cursor is the entry id (`1738324800000-0`), which means "everything up to this id, in every
 * stream". Only an event that shares its id with a later event of the same subscription gets
 * `<id>/<domain>` ("up to this id, in the streams up to this one"), so that resuming after it
 * does not skip the other one.
 */

/** The domains in their tie-break order. A new domain goes at the end, so older cursors keep their meaning. */
export const DOMAIN_ORDER = ['users', 'orders', 'instances'] as const;
export type Domain = (typeof DOMAIN_ORDER)[number];

/** The rank of a cursor without a domain: after every domain. */
export const LAST_RANK = DOMAIN_ORDER.length;

const U64 = (1n << 64n) - 1n;

/** A stream entry id as one number: ms * 2^64 + seq, so ids compare as bigints. */
export type EntryId = bigint;

/** A place in the merged order: after the entries of id < `id`, and those of id `id` in streams of rank <= `rank`. */
export interface Position {
  readonly id: EntryId;
  readonly rank: number;
}

const ID_TEXT = /^(\d{1,20})-(\d{1,20})$/;

/** Parses `<ms>-<seq>`; null for anything else (or a part beyond 64 bits). */
export function parseEntryId(text: string): EntryId | null {
  const m = ID_TEXT.exec(text);
  if (!m) return null;
  const ms = BigInt(m[1]);
  const seq = BigInt(m[2]);
  if (ms > U64 || seq > U64) return null;
  return (ms << 64n) | seq;
}

export const entryIdText = (id: EntryId): string => `${id >> 64n}-${id & U64}`;

/** The id's milliseconds. */
export const entryIdMs = (id: EntryId): number => Number(id >> 64n);

/** The first id of millisecond `ms`. */
export const firstIdOf = (ms: number): EntryId => BigInt(ms) << 64n;

export const MAX_ENTRY_ID: EntryId = (U64 << 64n) | U64;

export const comparePositions = (a: Position, b: Position): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.rank - b.rank);

export const maxPosition = (a: Position, b: Position): Position => (comparePositions(a, b) >= 0 ? a : b);

/** Longest cursor text accepted: two 20-digit numbers, the dash, a slash and a domain name. */
export const CURSOR_MAX_LENGTH = 64;

export const CURSOR_FORMAT = `<ms>-<seq> (a stream entry id such as 1738324800000-0), optionally followed by /<domain> (${DOMAIN_ORDER.join(', ')})`;

/** The position a cursor names, or null when it is not one. */
export function parseCursor(text: string): Position | null {
  if (text.length > CURSOR_MAX_LENGTH) return null;
  const slash = text.indexOf('/');
  const id = parseEntryId(slash < 0 ? text : text.slice(0, slash));
  if (id === null) return null;
  if (slash < 0) return { id, rank: LAST_RANK };
  const rank = DOMAIN_ORDER.indexOf(text.slice(slash + 1) as Domain);
  return rank < 0 ? null : { id, rank };
}

/** The cursor of an event: its entry id, with its domain only when `tied` (a later event of the same delivery has the same id). */
export const cursorOf = (id: EntryId, domain: Domain, tied: boolean): string => (tied ? `${entryIdText(id)}/${domain}` : entryIdText(id));

export const rankOf = (domain: Domain): number => DOMAIN_ORDER.indexOf(domain);
