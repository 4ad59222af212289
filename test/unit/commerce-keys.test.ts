/** Every key one commerce script touches must live in one Redis Cluster slot. */
import { Keys } from '../../src/redis/keys';

// ioredis's own slot function (a dependency of ioredis); it ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const calculateSlot = require('cluster-key-slot') as (key: string) => number;

const keys = new Keys('gw');

test('stock, carts, orders, their indexes, idempotency keys and recommendation scores share the catalog slot', () => {
  const all = [
    ...(['products', 'stock', 'ids', 'version', 'cache', 'bestsellers'] as const).map((p) => keys.catalog(p)),
    keys.cart('u:1f2e'),
    keys.cart('g:9a8b'),
    keys.order('0123456789abcdef0123456789abcdef'),
    keys.order('') + 'fedcba9876543210fedcba9876543210',
    keys.userOrders('1f2e'),
    keys.userOrderKeys('1f2e'),
    keys.boughtWith('mug'),
    keys.boughtWith('') + 'tea',
    keys.orderIndex(),
    keys.orderIndex('PENDING'),
    keys.orderIndex('') + 'CANCELLED',
    keys.eventStream('orders'),
  ];
  const slots = new Set(all.map((k) => calculateSlot(k)));
  expect(slots).toEqual(new Set([calculateSlot('{catalog}')]));
  // Another deployment's prefix keeps the same tag.
  expect(calculateSlot(new Keys('shop-eu').cart('u:1'))).toBe(calculateSlot('{catalog}'));
});
