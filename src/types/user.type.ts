import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';

export enum Role {
  CUSTOMER = 'CUSTOMER',
  ADMIN = 'ADMIN',
}
registerEnumType(Role, { name: 'Role' });

@ObjectType({ description: 'A registered account.' })
export class User {
  @Field(() => ID)
  id!: string;

  @Field()
  email!: string;

  @Field()
  name!: string;

  @Field(() => [Role])
  roles!: Role[];

  @Field(() => Date)
  createdAt!: Date;
}
