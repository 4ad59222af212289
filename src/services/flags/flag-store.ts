/**
 * The feature flags one instance holds in memory. Changes reach it two ways: messages (one per
 * change, in order, but any may be missed while the subscriber connection is down) and re-reads
 * of every flag (a snapshot, which may cross messages in flight). Every change carries the
 * version Redis gave it, and a snapshot the version of the latest change it contains, so the
 * store takes whichever is newer and ends in the same state whatever the order of arrival.
 */

/** A flag as Redis keeps it (JSON in the flags hash) and as its change message carries it. */
export interface FlagDefinition {
  key: string;
  /** The switch: off for everyone when false. */
  enabled: boolean;
  /** 0 to 100: the share of visitors that get the flag while it is enabled. */
  rolloutPercent: number;
  /** The version of the change that wrote it. */
  version: number;
  /** When it was set (ms). */
  updatedAt: number;
}

/** The message of a deletion. */
export interface FlagDeletion {
  key: string;
  version: number;
  deleted: true;
}

export type FlagChange = FlagDefinition | FlagDeletion;

export class FlagStore {
  private readonly flags = new Map<string, FlagDefinition>();
  /** Deletions newer than the last snapshot: a re-read taken before one must not bring the flag back. */
  private readonly deletions = new Map<string, number>();
  /** The version of the last snapshot: every change up to it is in the store already. */
  private floor = 0;

  /** Applies one change message; true when it changed the store (false for one already seen or superseded). */
  apply(change: FlagChange): boolean {
    const known = Math.max(this.floor, this.flags.get(change.key)?.version ?? 0, this.deletions.get(change.key) ?? 0);
    if (!(change.version > known)) return false;
    if ('deleted' in change) {
      this.flags.delete(change.key);
      this.deletions.set(change.key, change.version);
    } else {
      this.flags.set(change.key, change);
      this.deletions.delete(change.key);
    }
    return true;
  }

  /**
   * Applies a snapshot: every flag and the version counter, read together. A snapshot older
   * than the last one means Redis itself went back (restored, flushed): it is taken as it is.
   * Returns true when the store changed.
   */
  applySnapshot(definitions: FlagDefinition[], version: number): boolean {
    if (version < this.floor) return this.reset(definitions, version);
    const present = new Set(definitions.map((d) => d.key));
    let changed = false;
    for (const def of definitions) {
      const known = Math.max(this.flags.get(def.key)?.version ?? 0, this.deletions.get(def.key) ?? 0);
      if (def.version > known) {
        this.flags.set(def.key, def);
        changed = true;
      }
    }
    // Held here, absent there, and not changed since: deleted before the snapshot.
    for (const [key, def] of this.flags) {
      if (!present.has(key) && def.version <= version) {
        this.flags.delete(key);
        changed = true;
      }
    }
    this.floor = version;
    for (const [key, v] of this.deletions) if (v <= version) this.deletions.delete(key);
    return changed;
  }

  private reset(definitions: FlagDefinition[], version: number): boolean {
    const before = JSON.stringify(this.list());
    this.flags.clear();
    this.deletions.clear();
    for (const def of definitions) this.flags.set(def.key, def);
    this.floor = version;
    return JSON.stringify(this.list()) !== before;
  }

  get(key: string): FlagDefinition | undefined {
    return this.flags.get(key);
  }

  get size(): number {
    return this.flags.size;
  }

  /** Every flag, by key. */
  list(): FlagDefinition[] {
    return [...this.flags.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
