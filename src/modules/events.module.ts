/**
 * Domain events on Redis Streams for other services. This module appends `user.registered`
 * after each registration; order events are appended by the order scripts themselves. A failed
 * append does not fail the registration (the account exists by then): it is logged at error
 * level with the whole event so it can be replayed.
 */
import { DomainEventsService } from '../services/events/domain-events.service';
import type { Module } from './module';

export const eventsModule: Module = {
  name: 'events',
  services: ({ config, redis, keys, instanceId }) => ({ domainEvents: new DomainEventsService(redis, keys, config.events.streamMaxLen, instanceId) }),
  install({ services }) {
    services.auth.onRegistered(async (user, log) => {
      const data = { userId: user.id, email: user.email, name: user.name };
      try {
        await services.domainEvents.append('user.registered', data, { id: `user.registered:${user.id}` });
      } catch (err) {
        log.error({ err: (err as Error).message, event: { type: 'user.registered', data } }, 'could not append a domain event');
      }
    });
  },
};
