import { Matches, Max, Min } from 'class-validator';
import { ArgsType, Field, ID, InputType, Int } from 'type-graphql';
import { PRODUCT_ID, PRODUCT_ID_MESSAGE } from '../../services/commerce/catalog.service';
import { MAX_LINE_QUANTITY } from '../../services/commerce/cart.service';

@InputType()
export class AddToCartInput {
  @Field(() => ID)
  @Matches(PRODUCT_ID, { message: PRODUCT_ID_MESSAGE })
  productId!: string;

  @Field(() => Int, { description: `Units to add, 1 to ${MAX_LINE_QUANTITY}.` })
  @Min(1, { message: 'must be at least 1' })
  @Max(MAX_LINE_QUANTITY, { message: `must be at most ${MAX_LINE_QUANTITY}` })
  quantity!: number;
}

@ArgsType()
export class SetCartItemQuantityArgs {
  @Field(() => ID)
  @Matches(PRODUCT_ID, { message: PRODUCT_ID_MESSAGE })
  productId!: string;

  @Field(() => Int, { description: `0 to ${MAX_LINE_QUANTITY}; 0 removes the line.` })
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_LINE_QUANTITY, { message: `must be at most ${MAX_LINE_QUANTITY}` })
  quantity!: number;
}

@ArgsType()
export class RemoveFromCartArgs {
  @Field(() => ID)
  @Matches(PRODUCT_ID, { message: PRODUCT_ID_MESSAGE })
  productId!: string;
}
