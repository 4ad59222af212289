import { Field, ObjectType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';

@ObjectType({
  description:
    'One entry of the domain event streams (user.registered, order.placed, instance.joined, ...). `cursor` is the stream entry id: pass it as `after` to resume exactly after this event.',
})
export class DomainEvent {
  @Field({
    description:
      'The stream entry id, e.g. `1738324800000-0`. Only an event that shares its id with the next one delivered (two streams, one millisecond) carries its stream too, `<id>/<domain>`. Pass it as `after` to resume right after this event.',
  })
  cursor!: string;

  @Field({ description: 'The event type, e.g. `order.placed`.' })
  type!: string;

  @Field(() => Date, { description: 'When it occurred (the envelope `occurredAt`).' })
  at!: Date;

  @Field(() => JSONObjectScalar, { description: "The event's `data` (see docs/events.md for each type)." })
  data!: Record<string, unknown>;
}
