import { Field, ID, ObjectType } from 'type-graphql';
import { ListSize } from '../list-size';
import { Role } from './user.type';

@ObjectType({ description: 'A credential for another service or script. The key itself is shown once, in ApiKeyPayload; Redis keeps only its hash.' })
export class ApiKey {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @ListSize({ max: 2 })
  @Field(() => [Role], { description: 'What a request signed with the key may do, as a user with these roles.' })
  roles!: Role[];

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When a request last used the key, to the minute; null when never.' })
  lastUsedAt!: Date | null;
}

@ObjectType()
export class ApiKeyPayload {
  @Field({ description: 'Sent as `Authorization: Bearer <key>`. Shown this once: it cannot be read again.' })
  key!: string;

  @Field(() => ApiKey)
  apiKey!: ApiKey;
}
