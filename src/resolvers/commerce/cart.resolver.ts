import { Arg, Args, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import type { RequestContext } from '../../services/context';
import { anySession } from '../viewer';
import { cartOwner, type CartOwner } from '../../services/commerce/cart.service';
import { AddToCartInput, RemoveFromCartArgs, SetCartItemQuantityArgs } from '../../types/commerce/cart.input';
import { Cart } from '../../types/commerce/cart.type';
import { toCart } from '../../types/commerce/commerce.mappers';

/** Every cart operation acts on the viewer's own cart: the user's, else the guest session's. */
const owner = async (ctx: RequestContext): Promise<CartOwner> => cartOwner(await anySession(ctx));

@Resolver(() => Cart)
export class CartResolver {
  @Query(() => Cart, { description: "The viewer's cart at current prices. Needs a session: sign in or start a guest session." })
  async cart(@Ctx() { ctx, services }: ResolverContext): Promise<Cart> {
    return toCart(await services.carts.view(await owner(ctx)));
  }

  @Mutation(() => Cart, { description: 'Adds units; OUT_OF_STOCK (extensions.available) beyond the stock. At most 99 per line, 50 lines.' })
  async addToCart(@Arg('input', () => AddToCartInput) input: AddToCartInput, @Ctx() { ctx, services }: ResolverContext): Promise<Cart> {
    return toCart(await services.carts.add(await owner(ctx), input.productId, input.quantity));
  }

  @Mutation(() => Cart, { description: 'Quantity 0 removes the line.' })
  async setCartItemQuantity(
    @Args(() => SetCartItemQuantityArgs) { productId, quantity }: SetCartItemQuantityArgs,
    @Ctx() { ctx, services }: ResolverContext,
  ): Promise<Cart> {
    return toCart(await services.carts.setQuantity(await owner(ctx), productId, quantity));
  }

  @Mutation(() => Cart)
  async removeFromCart(@Args(() => RemoveFromCartArgs) { productId }: RemoveFromCartArgs, @Ctx() { ctx, services }: ResolverContext): Promise<Cart> {
    return toCart(await services.carts.remove(await owner(ctx), productId));
  }

  @Mutation(() => Cart)
  async clearCart(@Ctx() { ctx, services }: ResolverContext): Promise<Cart> {
    return toCart(await services.carts.clear(await owner(ctx)));
  }
}
