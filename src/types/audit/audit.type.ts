import { Field, ObjectType } from 'type-graphql';

@ObjectType({ description: 'One admin action, kept in Redis: who did what to what.' })
export class AuditEntry {
  @Field(() => Date)
  at!: Date;

  @Field({ description: '`user:<id>` of the admin (or `key:<id>` of an API key).' })
  actor!: string;

  @Field({ description: 'The mutation, e.g. upsertProduct.' })
  action!: string;

  @Field({ description: 'What it acted on: a product id, experiment key, job id or user id.' })
  target!: string;
}
