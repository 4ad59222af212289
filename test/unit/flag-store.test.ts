/**
 * The in-memory flag store merges change messages and full re-reads by version, so every
 * instance ends in Redis's state whatever order they arrive in, and whichever messages it missed.
 */
import { FlagStore, type FlagChange, type FlagDefinition } from '../../src/services/flags/flag-store';

const def = (key: string, version: number, enabled = true, rolloutPercent = 100): FlagDefinition => ({
  key,
  enabled,
  rolloutPercent,
  version,
  updatedAt: version,
});
const del = (key: string, version: number): FlagChange => ({ key, version, deleted: true });
const state = (s: FlagStore) => s.list().map((d) => `${d.key}@${d.version}`);

test('messages: a newer change wins, an older or repeated one changes nothing', () => {
  const s = new FlagStore();
  expect(s.apply(def('a', 1))).toBe(true);
  expect(s.apply(def('a', 3, false))).toBe(true);
  expect(s.apply(def('a', 2))).toBe(false);
  expect(s.apply(def('a', 3, false))).toBe(false);
  expect(s.get('a')).toMatchObject({ enabled: false, version: 3 });
  expect(s.apply(del('a', 4))).toBe(true);
  expect(s.apply(def('a', 3))).toBe(false);
  expect(state(s)).toEqual([]);
});

test('a snapshot fills in what messages missed and drops what was deleted before it', () => {
  const s = new FlagStore();
  s.apply(def('a', 1));
  s.apply(def('gone', 2));
  // Missed: b@3, the deletion of gone@4, a@5.
  expect(s.applySnapshot([def('a', 5, false), def('b', 3)], 5)).toBe(true);
  expect(state(s)).toEqual(['a@5', 'b@3']);
  expect(s.applySnapshot([def('a', 5, false), def('b', 3)], 5)).toBe(false);
  // A late message from before the snapshot changes nothing.
  expect(s.apply(def('gone', 2))).toBe(false);
  expect(s.apply(def('b', 4, false))).toBe(false);
  expect(state(s)).toEqual(['a@5', 'b@3']);
});

test('a snapshot read before messages that arrived first does not undo them', () => {
  const s = new FlagStore();
  s.applySnapshot([def('a', 1), def('b', 2)], 2);
  // Messages 3 (c created), 4 (a deleted), 5 (b changed) arrive before the reply of a re-read taken at version 2... then at 3.
  s.apply(def('c', 3));
  s.apply(del('a', 4));
  s.apply(def('b', 5, false));
  expect(s.applySnapshot([def('a', 1), def('b', 2)], 2)).toBe(false);
  expect(s.applySnapshot([def('a', 1), def('b', 2), def('c', 3)], 3)).toBe(false);
  expect(state(s)).toEqual(['b@5', 'c@3']);
  // Once a snapshot has seen the deletion, it is no longer needed to keep the flag away.
  expect(s.applySnapshot([def('b', 5, false), def('c', 3)], 5)).toBe(false);
  expect(state(s)).toEqual(['b@5', 'c@3']);
});

test('every order of the same changes and snapshots ends in the same state', () => {
  const changes: FlagChange[] = [def('a', 1), def('b', 2), def('a', 3, false, 40), del('b', 4), def('c', 5), def('b', 6, true, 10), del('c', 7)];
  const snapshots: Array<[FlagDefinition[], number]> = [
    [[def('a', 1), def('b', 2)], 2],
    [[def('a', 3, false, 40), def('c', 5)], 5],
    [[def('a', 3, false, 40), def('b', 6, true, 10)], 7],
  ];
  const final = ['a@3', 'b@6'];
  // Messages keep their order (one connection); snapshots are taken in order but may land anywhere
  // between them, and any message may be lost when a later snapshot covers it.
  let runs = 0;
  for (let mask = 0; mask < 1 << changes.length; mask++) {
    for (const at of [0, 2, 4, 7]) {
      const s = new FlagStore();
      const lost = (i: number) => Boolean(mask & (1 << i)) && changes[i].version <= 7;
      changes.forEach((c, i) => {
        if (i === at) s.applySnapshot(...snapshots[0]);
        if (i === at + 1) s.applySnapshot(...snapshots[1]);
        if (!lost(i)) s.apply(c);
      });
      s.applySnapshot(...snapshots[2]);
      expect(state(s)).toEqual(final);
      runs++;
    }
  }
  expect(runs).toBe(512);
});

test('a snapshot older than the last one (Redis restored or flushed) is taken as it is', () => {
  const s = new FlagStore();
  s.applySnapshot([def('a', 8), def('b', 9)], 9);
  expect(s.applySnapshot([def('a', 1)], 1)).toBe(true);
  expect(state(s)).toEqual(['a@1']);
  expect(s.apply(def('c', 2))).toBe(true);
  expect(state(s)).toEqual(['a@1', 'c@2']);
});
