import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { MAX_CART_LINES } from '../../services/commerce/cart.service';
import { ListSize } from '../list-size';

export enum OrderStatus {
  PENDING = 'PENDING',
  PROCESSING = 'PROCESSING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(OrderStatus, { name: 'OrderStatus' });

@ObjectType({ description: 'A product as bought: name and price at the time of purchase.' })
export class OrderItem {
  @Field(() => ID)
  productId!: string;

  @Field()
  name!: string;

  @Field(() => Int)
  unitPriceCents!: number;

  @Field(() => Int)
  quantity!: number;
}

@ObjectType({ description: 'An order: PENDING at checkout, then PROCESSING and COMPLETED, or FAILED with its stock given back.' })
export class Order {
  @Field(() => ID)
  id!: string;

  @Field(() => OrderStatus)
  status!: OrderStatus;

  // An order is a checked-out cart: one item per cart line.
  @ListSize({ max: MAX_CART_LINES })
  @Field(() => [OrderItem])
  items!: OrderItem[];

  @Field(() => Int)
  totalCents!: number;

  @Field({ description: 'ISO 4217 code of every price in the order.' })
  currency!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}
