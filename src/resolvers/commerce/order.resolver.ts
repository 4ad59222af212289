import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { signedInUser } from '../viewer';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { toOrder } from '../../types/commerce/commerce.mappers';
import { CheckoutArgs, MyOrdersArgs, OrdersArgs } from '../../types/commerce/order.input';
import { Order } from '../../types/commerce/order.type';
import { ListSize } from '../../types/list-size';
import { ORDERS_PAGE, type OrderRecord } from '../../services/commerce/order.service';

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

  @Authorized('ADMIN')
  @ListSize({ arg: 'limit', default: ORDERS_PAGE.default, max: ORDERS_PAGE.max })
  @Query(() => [Order], { description: 'Admin only. Every order (or those in one status now), newest first.' })
  async orders(@Args(() => OrdersArgs) { status, limit, offset }: OrdersArgs, @Ctx() { services }: ResolverContext): Promise<Order[]> {
    return (await services.orders.list(status ?? null, limit ?? ORDERS_PAGE.default, offset ?? 0)).map(toOrder);
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

  @Authorized()
  @Mutation(() => Order, {
    description:
      "The order's owner while it is PENDING or PROCESSING, or an admin: the order becomes CANCELLED, its units go back to stock once (a repeated cancel answers the cancelled order and changes nothing) and its job stops. NOT_FOUND for anyone else's order, as for an unknown id; BAD_USER_INPUT once it is COMPLETED or FAILED.",
  })
  async cancelOrder(@Arg('id', () => ID) id: string, @Ctx() { ctx, services }: ResolverContext): Promise<Order> {
    const { user } = await signedInUser(ctx);
    const order = await services.orders.cancel(user, id, ctx.log);
    // An admin cancelling someone else's order is an admin action: audited (an owner's own cancel is not).
    if (order.userId !== user.id) await services.audit.record(ctx, 'cancelOrder', order.id);
    return toOrder(order);
  }

  // Each subscribe reads the order from Redis: a client re-subscribing in a loop is slowed down.
  @RateLimit({ name: 'order-watch', points: 60, window: '1m', burst: 30 })
  @Subscription(() => Order, {
    description:
      "The order's owner or an admin: the order as it is now, then one message per status change, from any instance; completes after COMPLETED, FAILED or CANCELLED. NOT_FOUND for anyone else (anonymous included), as for an unknown id.",
    subscribe: async ({ args, context }) => {
      const { ctx, services } = context as ResolverContext;
      return services.orderUpdates.watch(await ctx.user(), String((args as { id: string }).id));
    },
  })
  orderUpdated(@Root() order: OrderRecord, @Arg('id', () => ID) _id: string): Order {
    return toOrder(order);
  }
}
