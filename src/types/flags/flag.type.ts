import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    'A feature flag. In `flags` and `flagsUpdated`, `enabled` says whether the caller gets it; in `setFlag` and `flagSettings`, it is the switch itself.',
})
export class Flag {
  @Field({ description: '1 to 64 letters, digits, _ . or -.' })
  key!: string;

  @Field()
  enabled!: boolean;

  @Field(() => Int, { description: '0 to 100: the share of visitors that get the flag while it is enabled.' })
  rolloutPercent!: number;

  @Field(() => Date, { description: 'When an admin last set it.' })
  updatedAt!: Date;
}
