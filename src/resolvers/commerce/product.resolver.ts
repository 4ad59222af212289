import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import { Cached } from '../../types/cache/cached.decorator';
import { toProduct } from '../../types/commerce/commerce.mappers';
import { AdjustStockArgs, ProductInput, ProductsArgs, RecommendationsArgs } from '../../types/commerce/product.input';
import { Product } from '../../types/commerce/product.type';
import { ListSize } from '../../types/list-size';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { SameForEveryone } from '../../types/same-for-everyone';
import { PRODUCTS_CHANGED_TAG, type ProductRecord } from '../../services/commerce/catalog.service';
import type { Services } from '../../services/container';
import { MAX_WATCHED_PRODUCTS } from '../../services/commerce/product-updates';

@Resolver(() => Product)
export class ProductResolver {
  @ListSize({ arg: 'limit', default: 20, max: 100 })
  @Query(() => [Product], { description: 'The catalog in product id order. Anyone may read it.' })
  async products(@Args(() => ProductsArgs) { limit, offset }: ProductsArgs, @Ctx() { services }: ResolverContext): Promise<Product[]> {
    return (await services.catalog.list(offset ?? 0, limit ?? 20)).map(toProduct);
  }

  @Query(() => Product, { nullable: true, description: 'One product, or null when there is none with this id.' })
  async product(@Arg('id', () => ID) id: string, @Ctx() { services }: ResolverContext): Promise<Product | null> {
    const p = await services.catalog.get(id);
    return p && toProduct(p);
  }

  // The same for everyone: kept per (productId, limit) on each instance, dropped on every instance by
  // any product change (the scripts' product.updated message: catalog.service.ts). Memory only: that
  // message cannot delete Redis entries, and a Redis read would cost what the recommend script does.
  @Cached({ ttlSeconds: 5, tags: [PRODUCTS_CHANGED_TAG], redis: false })
  @ListSize({ arg: 'limit', default: 5, max: 20 })
  @Query(() => [Product], { description: 'Products often bought with this one, then best sellers; never itself, never out of stock.' })
  async recommendations(@Args(() => RecommendationsArgs) { productId, limit }: RecommendationsArgs, @Ctx('services') services: Services): Promise<Product[]> {
    return (await services.recommendations.forProduct(productId, limit ?? 5)).map(toProduct);
  }

  @Authorized('ADMIN')
  @Audited((args) => (args.input as { id: string }).id)
  @Mutation(() => Product, { description: 'Admin only. Creates the product or replaces it, stock included.' })
  async upsertProduct(@Arg('input', () => ProductInput) input: ProductInput, @Ctx() { services }: ResolverContext): Promise<Product> {
    return toProduct(await services.catalog.upsert(input));
  }

  @Authorized('ADMIN')
  @Audited((args) => `${String(args.productId)} ${Number(args.delta) > 0 ? '+' : ''}${String(args.delta)}`)
  @Mutation(() => Product, {
    description:
      'Admin only. Adds `delta` (negative removes) to the stock in one step with sales: a restock during a rush loses no sale. BAD_USER_INPUT (extensions: productId, stock, delta) when the stock would go below 0 (units in open orders are not in it) or past 1,000,000,000; NOT_FOUND for an unknown product.',
  })
  async adjustStock(@Args(() => AdjustStockArgs) { productId, delta }: AdjustStockArgs, @Ctx() { services }: ResolverContext): Promise<Product> {
    return toProduct(await services.catalog.adjustStock(productId, delta));
  }

  // Subscribing costs no Redis read, but each one holds up to 100 index entries: a loop of subscribes is slowed down.
  @RateLimit({ name: 'product-watch', points: 120, window: '1m', burst: 60 })
  @SameForEveryone()
  @Subscription(() => Product, {
    description: `Anyone. The product as it is after each change of its stock or price (upsertProduct, adjustStock, a checkout, an order failed or cancelled), from any instance. 1 to ${MAX_WATCHED_PRODUCTS} product ids (BAD_USER_INPUT otherwise); an id without a product is accepted and sends nothing until a product with it exists. No message at subscribe time.`,
    subscribe: ({ args, context }) => (context as ResolverContext).services.productUpdates.watch((args as { ids: string[] }).ids),
  })
  productUpdated(@Root() product: ProductRecord, @Arg('ids', () => [ID]) _ids: string[]): Product {
    return product;
  }
}
