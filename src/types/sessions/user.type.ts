import { Field, ID, ObjectType, registerEnumType } from 'type-graphql';
import { ListSize } from '../list-size';

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

  @ListSize({ max: 2 })
  @Field(() => [Role])
  roles!: Role[];

  @Field(() => Date)
  createdAt!: Date;
}
