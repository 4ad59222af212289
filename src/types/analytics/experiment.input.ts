import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';

@InputType()
export class ExperimentInput {
  @Field({ description: '1 to 64 letters, digits, _ or -.' })
  @Matches(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be 1 to 64 letters, digits, _ or -' })
  key!: string;

  @Field(() => [String], { description: '2 to 10 distinct names (1 to 32 letters, digits, _ or -); the first is the control.' })
  @ArrayMinSize(2)
  @ArrayMaxSize(10)
  @ArrayUnique({ message: 'must be distinct' })
  @Matches(/^[A-Za-z0-9_-]{1,32}$/, { each: true, message: 'must each be 1 to 32 letters, digits, _ or -' })
  variants!: string[];

  @Field(() => [Int], { nullable: true, description: 'Relative weights 1 to 10000, one per variant. Defaults to an even split.' })
  @IsOptional()
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(10_000, { each: true })
  weights?: number[] | null;
}
