/**
 * Domain events on Redis Streams for other services, and the domainEvents subscription that lets
 * admins follow them. This module appends `user.registered` after each registration; order events
 * are appended by the order scripts themselves, instance events by the registry scripts. A failed
 * append does not fail the registration (the account exists by then): it is logged at error
 * level with the whole event so it can be replayed.
 */
import { DomainEventResolver } from '../resolvers/events/domain-event.resolver';
import { DomainEventsService } from '../services/events/domain-events.service';
import type { Module } from './module';

export const eventsModule: Module = {
  name: 'events',
  services: ({ config, redis, keys, instanceId, log }) => ({
    domainEvents: new DomainEventsService(redis, keys, config.events.streamMaxLen, instanceId, log),
  }),
  resolvers: [DomainEventResolver],
  install({ services, hooks }) {
    services.auth.onRegistered(async (user, log) => {
      const data = { userId: user.id, email: user.email, name: user.name };
      try {
        await services.domainEvents.append('user.registered', data, { id: `user.registered:${user.id}` });
      } catch (err) {
        log.error({ err: (err as Error).message, event: { type: 'user.registered', data } }, 'could not append a domain event');
      }
    });
    // Subscriptions still open (WebSocket is closed first, so normally none) end with the process.
    hooks.onStop.push(() => Promise.resolve(services.domainEvents.stop()));
  },
};
