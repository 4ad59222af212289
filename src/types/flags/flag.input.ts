import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import { FLAG_KEY } from '../../services/flags/flag.service';

@InputType()
export class FlagInput {
  @Field({ description: '1 to 64 letters, digits, _ . or -.' })
  @Matches(FLAG_KEY, { message: 'must be 1 to 64 letters, digits, _ . or -' })
  key!: string;

  @Field({ description: 'The switch: false turns the flag off for everyone.' })
  enabled!: boolean;

  @Field(() => Int, { nullable: true, description: '0 to 100. Omitted: the flag keeps its own (100 for a new flag).' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  rolloutPercent?: number | null;
}
