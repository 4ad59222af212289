import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import { toProduct } from '../../types/commerce/commerce.mappers';
import { ProductInput, ProductsArgs, RecommendationsArgs } from '../../types/commerce/product.input';
import { Product } from '../../types/commerce/product.type';
import { ListSize } from '../../types/list-size';

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

  @ListSize({ arg: 'limit', default: 5, max: 20 })
  @Query(() => [Product], { description: 'Products often bought with this one, then best sellers; never itself, never out of stock.' })
  async recommendations(@Args(() => RecommendationsArgs) { productId, limit }: RecommendationsArgs, @Ctx() { services }: ResolverContext): Promise<Product[]> {
    return (await services.recommendations.forProduct(productId, limit ?? 5)).map(toProduct);
  }

  @Authorized('ADMIN')
  @Audited((args) => (args.input as { id: string }).id)
  @Mutation(() => Product, { description: 'Admin only. Creates the product or replaces it, stock included.' })
  async upsertProduct(@Arg('input', () => ProductInput) input: ProductInput, @Ctx() { services }: ResolverContext): Promise<Product> {
    return toProduct(await services.catalog.upsert(input));
  }
}
