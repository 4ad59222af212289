import { Field, ObjectType } from 'type-graphql';
import { Session } from './session.type';
import { User } from './user.type';

@ObjectType()
export class AuthPayload {
  @Field({ description: 'Bearer token for `Authorization: Bearer <token>`; also set as an HttpOnly cookie.' })
  token!: string;

  @Field(() => User, { nullable: true, description: 'Null for a guest session.' })
  user!: User | null;

  @Field(() => Session)
  session!: Session;
}
