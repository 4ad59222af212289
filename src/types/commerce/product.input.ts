import { IsISO4217CurrencyCode, IsInt, IsOptional, Matches, Max, MaxLength, Min, NotEquals } from 'class-validator';
import { ArgsType, Field, ID, InputType, Int } from 'type-graphql';
import { MAX_STOCK, PRODUCT_ID, PRODUCT_ID_MESSAGE } from '../../services/commerce/catalog.service';

export { MAX_STOCK };
/** Prices up to 1 million in major units (cents within GraphQL's Int, with room for quantities); stock up to a billion units (MAX_STOCK). */
export const MAX_PRICE_CENTS = 100_000_000;

@InputType({ description: 'Creates the product or replaces every field of it.' })
export class ProductInput {
  @Field(() => ID, { description: "1 to 64 letters, digits, '.', '_' or '-'." })
  @Matches(PRODUCT_ID, { message: PRODUCT_ID_MESSAGE })
  id!: string;

  @Field({ description: '1 to 200 characters.' })
  @Matches(/\S/, { message: 'must not be empty' })
  @MaxLength(200, { message: 'must be at most 200 characters long' })
  name!: string;

  @Field(() => Int, { description: 'Unit price in minor units (cents), 0 to 100,000,000.' })
  @IsInt({ message: 'must be a whole number of cents' })
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_PRICE_CENTS, { message: `must be at most ${MAX_PRICE_CENTS}` })
  priceCents!: number;

  @Field(() => Int, { description: 'Units in stock, 0 to 1,000,000,000; replaces the current count.' })
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must not be negative' })
  @Max(MAX_STOCK, { message: `must be at most ${MAX_STOCK}` })
  stock!: number;

  @Field(() => String, { nullable: true, description: 'ISO 4217 code; default USD.' })
  @IsOptional()
  @IsISO4217CurrencyCode({ message: 'must be an ISO 4217 currency code such as USD or EUR' })
  currency?: string | null;
}

@ArgsType()
export class ProductsArgs {
  @Field(() => Int, { nullable: true, description: '1 to 100; default 20.' })
  @IsOptional()
  @Min(1, { message: 'must be at least 1' })
  @Max(100, { message: 'must be at most 100' })
  limit?: number | null;

  @Field(() => Int, { nullable: true, description: 'Products to skip, in id order; default 0.' })
  @IsOptional()
  @Min(0, { message: 'must not be negative' })
  @Max(1_000_000, { message: 'must be at most 1000000' })
  offset?: number | null;
}

@ArgsType()
export class RecommendationsArgs {
  @Field(() => ID)
  @MaxLength(64, { message: 'must be at most 64 characters long' })
  productId!: string;

  @Field(() => Int, { nullable: true, description: '1 to 20; default 5.' })
  @IsOptional()
  @Min(1, { message: 'must be at least 1' })
  @Max(20, { message: 'must be at most 20' })
  limit?: number | null;
}

@ArgsType()
export class AdjustStockArgs {
  @Field(() => ID)
  @MaxLength(64, { message: 'must be at most 64 characters long' })
  productId!: string;

  @Field(() => Int, { description: `Units to add (negative: to remove), -${MAX_STOCK} to ${MAX_STOCK}, not 0. The stock never goes below 0.` })
  @IsInt({ message: 'must be a whole number' })
  @Min(-MAX_STOCK, { message: `must be at least -${MAX_STOCK}` })
  @Max(MAX_STOCK, { message: `must be at most ${MAX_STOCK}` })
  @NotEquals(0, { message: 'must not be 0' })
  delta!: number;
}
