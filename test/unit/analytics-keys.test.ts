/** Analytics keys share the `{an}` slot; a caller's budget is kept per address, an IPv6 host by its /64. */
import { Keys } from '../../src/redis/keys';
import { addressBlock } from '../../src/services/analytics/visitor-budget';

// ioredis's own slot function (a dependency of ioredis); it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;

const keys = new Keys('gw');

test('every key a tracking script touches, the ones it builds from a prefix too, is in the {an} slot', () => {
  const all = [
    keys.anTotals(),
    keys.anPages(),
    keys.anUniques(),
    keys.anUniques('/a}{b'),
    keys.anMinute(29_000_000),
    keys.anJourney('k_DgZn3aST70KRQB0p614W'),
    keys.anVisitorExps('k_DgZn3aST70KRQB0p614W'),
    keys.anBudget(20_000, 'ATRX0IPY0GRQCMAvoa1aaG'),
    keys.anOrder('0123456789abcdef0123456789abcdef'),
    keys.anDirty(),
    keys.anHour(490_000),
    keys.anDay(20_000, 'tot'),
    keys.anDay(20_000, 'uv'),
    keys.anDay(20_000, 'seq'),
    keys.anDayValues(20_000, 'ref'),
    keys.anDayUniques(20_000, 'src', 'AbCdEfGhIjKlMnOp'),
    keys.anPageIds(),
    keys.anScratch('x1'),
    keys.experiments(),
    keys.experiment('checkout-button', 'def'),
    keys.experiment('', 'def'),
    `${keys.experimentPrefix()}checkout-button:def`,
    `${keys.experimentPrefix()}checkout-button:stats`,
  ];
  expect(new Set(all.map((k) => calculateSlot(k)))).toEqual(new Set([calculateSlot('{an}')]));
  // The prefix a script appends to spells the same keys the service reads.
  expect(`${keys.experimentPrefix()}checkout-button:stats`).toBe(keys.experiment('checkout-button', 'stats'));
});

test.each([
  ['203.0.113.7', '203.0.113.7'],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
  ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
  ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
  ['2001:db8::1', '2001:db8:0:0::/64'],
  ['::1', '0:0:0:0::/64'],
  ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
  ['', ''],
])('the budget of %j is kept for %j', (ip, block) => {
  expect(addressBlock(ip)).toBe(block);
});
