import { Arg, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { requireRoles } from '../viewer';
import { cursorExpired, eventView, MAX_EVENT_TYPES } from '../../services/events/domain-events.service';
import type { SubscriptionMessage } from '../../services/events/event-feed';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { DomainEvent } from '../../types/events/domain-event.type';

@Resolver(() => DomainEvent)
export class DomainEventResolver {
  // Each subscribe with `after` reads the streams from there: a client re-subscribing in a loop is slowed down.
  @RateLimit({ name: 'domain-events', points: 60, window: '1m', burst: 30 })
  @Subscription(() => DomainEvent, {
    description: `Admin only. Events of the given types (1 to ${MAX_EVENT_TYPES} known types; all when omitted or empty) as they are appended on any instance. With \`after\` (a cursor), first every event after it that the streams still hold, in order, then the live ones, without gaps or repeats; NOT_FOUND with extensions.reason CURSOR_EXPIRED (and extensions.oldestCursor) when they were trimmed past it. See docs/events.md.`,
    subscribe: async ({ args, context }) => {
      const { ctx, services } = context as ResolverContext;
      // Checked once, at subscribe time, with the same check as @Authorized('ADMIN').
      await requireRoles(ctx, ['ADMIN']);
      const { types, after } = args as { types?: string[] | null; after?: string | null };
      return services.domainEvents.subscribe(types, after);
    },
  })
  domainEvents(
    @Root() message: SubscriptionMessage,
    @Arg('types', () => [String], { nullable: true, validate: false }) _types?: string[] | null,
    @Arg('after', () => String, { nullable: true, validate: false }) _after?: string | null,
  ): DomainEvent {
    if ('expired' in message) throw cursorExpired(message.expired);
    return eventView(message.entry, message.tied);
  }
}
