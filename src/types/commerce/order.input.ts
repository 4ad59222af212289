import { IsOptional, Matches, Max, MaxLength, Min } from 'class-validator';
import { ArgsType, Field, Int } from 'type-graphql';
import { ORDERS_PAGE } from '../../services/commerce/order.service';
import { OrderStatus } from './order.type';

@ArgsType()
export class CheckoutArgs {
  @Field(() => String, { nullable: true, description: 'Retries with the same key (per user) return the same order; 1 to 200 characters.' })
  @IsOptional()
  @Matches(/\S/, { message: 'must not be empty' })
  @MaxLength(200, { message: 'must be at most 200 characters long' })
  idempotencyKey?: string | null;
}

@ArgsType()
export class MyOrdersArgs {
  @Field(() => Int, { nullable: true, description: 'Newest first, 1 to 100; default 50.' })
  @IsOptional()
  @Min(1, { message: 'must be at least 1' })
  @Max(100, { message: 'must be at most 100' })
  limit?: number | null;
}

@ArgsType()
export class OrdersArgs {
  @Field(() => OrderStatus, { nullable: true, description: 'Only orders in this status now; every order when omitted.' })
  @IsOptional()
  status?: OrderStatus | null;

  @Field(() => Int, { nullable: true, description: `Newest first, 1 to ${ORDERS_PAGE.max}; default ${ORDERS_PAGE.default}.` })
  @IsOptional()
  @Min(1, { message: 'must be at least 1' })
  @Max(ORDERS_PAGE.max, { message: `must be at most ${ORDERS_PAGE.max}` })
  limit?: number | null;

  @Field(() => Int, { nullable: true, description: `Orders to skip, newest first; 0 to ${ORDERS_PAGE.maxOffset}, default 0.` })
  @IsOptional()
  @Min(0, { message: 'must not be negative' })
  @Max(ORDERS_PAGE.maxOffset, { message: `must be at most ${ORDERS_PAGE.maxOffset}` })
  offset?: number | null;
}
