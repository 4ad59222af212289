import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { signedInUser } from '../viewer';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { toOrder } from '../../types/commerce/commerce.mappers';
import { CheckoutArgs, MyOrdersArgs } from '../../types/commerce/order.input';
import { Order } from '../../types/commerce/order.type';
import { ListSize } from '../../types/list-size';

@Resolver(() => Order)
export class OrderResolver {
  @Authorized()
  @Query(() => Order, { nullable: true, description: "The caller's order (any order for an admin); null for anyone else's or an unknown id." })
  async order(@Arg('id', () => ID) id: string, @Ctx() { ctx, services }: ResolverContext): Promise<Order | null> {
    const { user } = await signedInUser(ctx);
    const order = await services.orders.findVisible(user, id);
    return order && toOrder(order);
  }

  @Authorized()
  @ListSize({ arg: 'limit', default: 50, max: 100 })
  @Query(() => [Order], { description: "The caller's orders, newest first." })
  async myOrders(@Args(() => MyOrdersArgs) { limit }: MyOrdersArgs, @Ctx() { ctx, services }: ResolverContext): Promise<Order[]> {
    const { user } = await signedInUser(ctx);
    return (await services.orders.listForUser(user.id, limit ?? 50)).map(toOrder);
  }

  @Authorized()
  @RateLimit({ name: 'checkout', points: 10, window: '1m', burst: 5 })
  @Mutation(() => Order, {
    description:
      "Buys the signed-in user's cart in one atomic step, or nothing: OUT_OF_STOCK lists each short line (extensions.lines). The same idempotencyKey never creates a second order.",
  })
  async checkout(@Args(() => CheckoutArgs) { idempotencyKey }: CheckoutArgs, @Ctx() { ctx, services }: ResolverContext): Promise<Order> {
    const { user } = await signedInUser(ctx);
    return toOrder(await services.orders.checkout(user.id, idempotencyKey, ctx.log));
  }
}
