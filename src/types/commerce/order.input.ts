import { IsOptional, Matches, Max, MaxLength, Min } from 'class-validator';
import { ArgsType, Field, Int } from 'type-graphql';

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
