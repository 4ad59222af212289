/**
 * Cursors of the domainEvents subscription: the entry id (`<ms>-<seq>`), or the id and a stream
 * for an event tied with the next one; positions order by id, then by stream; anything else is
 * refused, whatever its shape.
 */
import {
  comparePositions,
  cursorOf,
  DOMAIN_ORDER,
  entryIdText,
  LAST_RANK,
  MAX_ENTRY_ID,
  parseCursor,
  parseEntryId,
  rankOf,
} from '../../src/services/events/event-position';

test('an entry id round-trips, up to two 64-bit parts', () => {
  for (const text of ['0-0', '0-1', '1738324800000-0', '1738324800000-42', '18446744073709551615-18446744073709551615']) {
    expect(entryIdText(parseEntryId(text)!)).toBe(text);
  }
  expect(parseEntryId('18446744073709551615-18446744073709551615')).toBe(MAX_ENTRY_ID);
});

test('ids order as Redis orders them: by milliseconds, then by sequence', () => {
  const ids = ['2-0', '1-5', '1-10', '10-0', '1-0'].map((t) => parseEntryId(t)!);
  expect(ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(entryIdText)).toEqual(['1-0', '1-5', '1-10', '2-0', '10-0']);
  // The id right before a millisecond's first is the previous millisecond's last.
  expect(entryIdText(parseEntryId('5-0')! - 1n)).toBe('4-18446744073709551615');
});

test('a plain cursor is after every stream at its id; one with a stream only after that stream', () => {
  expect(parseCursor('5-0')).toEqual({ id: parseEntryId('5-0'), rank: LAST_RANK });
  expect(parseCursor('5-0/users')).toEqual({ id: parseEntryId('5-0'), rank: 0 });
  expect(parseCursor('5-0/instances')).toEqual({ id: parseEntryId('5-0'), rank: DOMAIN_ORDER.length - 1 });
  const [users, orders, plain] = [parseCursor('5-0/users')!, parseCursor('5-0/orders')!, parseCursor('5-0')!];
  expect(comparePositions(users, orders)).toBeLessThan(0);
  expect(comparePositions(orders, plain)).toBeLessThan(0);
  expect(comparePositions(plain, parseCursor('5-1/users')!)).toBeLessThan(0);
  expect(cursorOf(parseEntryId('5-0')!, 'orders', false)).toBe('5-0');
  expect(cursorOf(parseEntryId('5-0')!, 'orders', true)).toBe('5-0/orders');
  expect(parseCursor(cursorOf(parseEntryId('7-3')!, 'users', true))).toEqual({ id: parseEntryId('7-3'), rank: rankOf('users') });
});

test.each([
  '',
  '5',
  '5-',
  '-5',
  '5-0-0',
  '5.0-0',
  ' 5-0',
  '5-0 ',
  '+5-0',
  '0x5-0',
  '5-0/',
  '5-0/Users',
  '5-0/users/orders',
  '5-0/carts',
  '5-0/{catalog}',
  '5-0:users',
  '*',
  '$',
  '>',
  '18446744073709551616-0',
  '0-18446744073709551616',
  `${'1'.repeat(21)}-0`,
  `${'9'.repeat(5000)}-0`,
  "5-0'); redis.call('FLUSHALL') --",
  '５-0',
])('%j is not a cursor', (text) => {
  expect(parseCursor(text)).toBeNull();
});
