import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A product of the catalog, with its current price and stock.' })
export class Product {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => Int, { description: 'Current unit price in minor units (cents).' })
  priceCents!: number;

  @Field({ description: 'ISO 4217 code, e.g. USD.' })
  currency!: string;

  @Field(() => Int, { description: 'Units that can still be bought.' })
  stock!: number;
}
