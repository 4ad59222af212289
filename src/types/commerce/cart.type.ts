import { Field, Int, ObjectType } from 'type-graphql';
import { Product } from './product.type';
import { MAX_CART_LINES } from '../../services/commerce/cart.service';
import { ListSize } from '../list-size';

@ObjectType({ description: 'One line of a cart, at the current price.' })
export class CartItem {
  @Field(() => Product)
  product!: Product;

  @Field(() => Int)
  quantity!: number;

  @Field(() => Int, { description: 'quantity x current unit price.' })
  lineTotalCents!: number;
}

@ObjectType({ description: "The viewer's cart: the signed-in user's (on every device) or the guest session's." })
export class Cart {
  @ListSize({ max: MAX_CART_LINES })
  @Field(() => [CartItem], { description: 'Lines in product id order.' })
  items!: CartItem[];

  @Field(() => Int, { description: 'Units in the cart (the sum of quantities).' })
  itemCount!: number;

  @Field(() => Int, { description: 'Sum of the line totals at current prices.' })
  subtotalCents!: number;

  @Field(() => String, { nullable: true, description: 'The currency of every line; null for an empty cart.' })
  currency!: string | null;
}
