import { Field, ID, ObjectType } from 'type-graphql';

@ObjectType({ description: 'One signed-in browser or device. `id` is a public handle, never the token.' })
export class Session {
  @Field(() => ID)
  id!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  lastSeenAt!: Date;

  @Field(() => Date, { description: 'When the session ends if unused: the earlier of the idle and absolute limits.' })
  expiresAt!: Date;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field(() => String, { nullable: true })
  ip!: string | null;

  @Field({ description: 'True for the session making this request.' })
  current!: boolean;
}
