/**
 * "Bought together" recommendations. Checkout counts, for every pair of
 * products in an order, one more order together (a zset per product); a
 * product's recommendations are its top partners, then best sellers, then the
 * catalog, skipping itself and anything out of stock. One round trip.
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { PRODUCT_ID, productFrom, type ProductRecord } from './catalog.service';

export class RecommendationService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Up to `limit` products (default 5) to show beside `productId`; none beside text that can never be a product id (it never reaches a key). */
  async forProduct(productId: string, limit = 5): Promise<ProductRecord[]> {
    if (!PRODUCT_ID.test(productId)) return [];
    const k = this.keys;
    const flat = await runScript<Array<string | number>>(
      this.redis,
      'recommend',
      [k.boughtWith(productId), k.catalog('bestsellers'), k.catalog('ids'), k.catalog('products'), k.catalog('stock')],
      [productId, limit],
    );
    const out: ProductRecord[] = [];
    for (let i = 0; i < flat.length; i += 3) out.push(productFrom(String(flat[i]), String(flat[i + 1]), flat[i + 2]));
    return out;
  }
}
