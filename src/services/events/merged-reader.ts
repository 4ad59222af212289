/**
 * Reads several domain event streams as one sequence, in the order of event-position.ts, without
 * gaps or repeats, in pages of a bounded size. Each read of a stream (eventsRead-1.lua) also
 * returns the Redis clock at that instant: an entry appended later gets an id of that millisecond
 * or later, so every entry of an earlier millisecond is known. An entry is handed out only once
 * every stream is known up to its id, so no entry can later appear before one already handed out.
 * (Each stream is judged by the clock of the Redis that holds it, so this holds in a Cluster too,
 * as long as no Redis clock steps backwards.)
 */
import type { RedisClient } from '../../redis/connection';
import { runScript } from '../../redis/scripts';
import { comparePositions, entryIdText, firstIdOf, LAST_RANK, maxPosition, parseEntryId, type Domain, type EntryId, type Position } from './event-position';

export interface StreamSpec {
  domain: Domain;
  key: string;
  rank: number;
}

/** One stream entry, as read. */
export interface StreamEntry {
  id: EntryId;
  domain: Domain;
  rank: number;
  /** The entry's fields, flat: name, value, name, value... */
  fields: string[];
}

/** Entries after a position were trimmed from a stream (or deleted) before they were read. */
export class CursorExpiredError extends Error {
  constructor(
    readonly domain: Domain,
    /** The oldest position every stream read still holds everything after. */
    readonly oldest: Position,
  ) {
    super(`entries of the ${domain} stream after the position were trimmed`);
    this.name = 'CursorExpiredError';
  }
}

type ReadReply = [
  seconds: string,
  micros: string,
  entries: Array<[string, string[]]>,
  first: string | null,
  added: string | null,
  length: string,
  lastGenerated: string,
];

interface StreamState {
  readonly spec: StreamSpec;
  /** The last id read (entries up to it are in the buffer or handed out). */
  after: EntryId;
  /** Read but not handed out yet, in id order. */
  buffer: StreamEntry[];
  /** Every entry of this stream with an id up to this one has been read. */
  known: EntryId;
  /** The last read stopped at the page size: more entries follow. */
  more: boolean;
}

const entryId = (text: string): EntryId => {
  const id = parseEntryId(text);
  if (id === null) throw new Error(`unexpected stream entry id ${text}`);
  return id;
};

/** The Redis clock of a reply, as the last id no later entry can take. */
const knownByClock = (reply: ReadReply): EntryId => firstIdOf(Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000)) - 1n;

/**
 * Null when a stream still holds every entry after `after`; otherwise the oldest position after
 * which it does. Trimming removes the oldest entries, so nothing after `after` is gone when
 * nothing was ever removed, when the oldest entry held is at most the id right after `after`,
 * or when the stream is empty and its last entry ever was not after `after`.
 */
function expiredSince(reply: ReadReply, after: EntryId): EntryId | null {
  const [, , , first, added, length, lastGenerated] = reply;
  if (added !== null && BigInt(added) === BigInt(length)) return null;
  if (first !== null) {
    const firstId = entryId(first);
    return firstId <= after + 1n ? null : firstId - 1n;
  }
  const last = entryId(lastGenerated);
  return last <= after ? null : last;
}

export class MergedReader {
  private readonly streams: StreamState[];
  private pos: Position;
  /** The last read reached the end of every stream (nothing more to read right now). */
  caughtUp = false;

  constructor(
    private readonly redis: RedisClient,
    specs: readonly StreamSpec[],
    /** Hands out only entries after this position. */
    from: Position,
    private readonly pageSize: number,
  ) {
    this.pos = from;
    // A stream ranked after the position also has its entry of the position's id still to come.
    this.streams = specs.map((spec) => {
      const after = spec.rank <= from.rank || from.id === 0n ? from.id : from.id - 1n;
      return { spec, after, buffer: [], known: after, more: false };
    });
  }

  /** The position everything up to which has been handed out. */
  get position(): Position {
    return this.pos;
  }

  /** Entries read but held back (a stream is not known up to their id yet). */
  get holding(): boolean {
    return this.streams.some((s) => s.buffer.length > 0);
  }

  /**
   * Reads the next page of every stream whose read entries have all been handed out, all at once.
   * `check`: throw {@link CursorExpiredError} when a stream no longer holds every entry after the
   * reader's place in it.
   */
  async read(check = true): Promise<void> {
    const due = this.streams.filter((s) => s.buffer.length === 0);
    const replies = await Promise.all(due.map((s) => runScript<ReadReply>(this.redis, 'eventsRead', [s.spec.key], [entryIdText(s.after), this.pageSize])));
    if (check) {
      let oldest: EntryId | null = null;
      let domain: Domain | null = null;
      due.forEach((s, i) => {
        const gone = expiredSince(replies[i], s.after);
        if (gone !== null && (oldest === null || gone > oldest)) [oldest, domain] = [gone, s.spec.domain];
      });
      if (oldest !== null) throw new CursorExpiredError(domain!, { id: oldest, rank: LAST_RANK });
    }
    due.forEach((s, i) => {
      const reply = replies[i];
      const { domain, rank } = s.spec;
      for (const [id, fields] of reply[2]) s.buffer.push({ id: entryId(id), domain, rank, fields });
      const last = s.buffer.at(-1)?.id ?? s.after;
      s.after = last;
      s.more = reply[2].length >= this.pageSize;
      s.known = s.more ? last : last > knownByClock(reply) ? last : knownByClock(reply);
    });
    this.caughtUp = this.streams.every((s) => !s.more);
  }

  /** Hands out, in order, every entry read whose id every stream is known up to. */
  take(): StreamEntry[] {
    if (!this.streams.length) return [];
    const upTo = this.streams.reduce((min, s) => (s.known < min ? s.known : min), this.streams[0].known);
    const out: StreamEntry[] = [];
    for (const s of this.streams) {
      let n = 0;
      while (n < s.buffer.length && s.buffer[n].id <= upTo) n++;
      if (n) out.push(...s.buffer.splice(0, n));
    }
    out.sort((a, b) => comparePositions(a, b));
    this.pos = maxPosition(this.pos, { id: upTo, rank: LAST_RANK });
    return out;
  }
}

/** The Redis clock of every stream's Redis, as the latest position no entry appended from now on can precede. */
export async function headPosition(redis: RedisClient, specs: readonly StreamSpec[]): Promise<Position> {
  const replies = await Promise.all(specs.map((s) => runScript<ReadReply>(redis, 'eventsRead', [s.key], ['0-0', 0])));
  const ids = replies.map(knownByClock);
  return { id: ids.reduce((min, id) => (id < min ? id : min), ids[0]), rank: LAST_RANK };
}
