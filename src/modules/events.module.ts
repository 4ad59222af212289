/**
 * Domain events of the foundation: `user.registered` after each registration.
 * A failed append does not fail the registration (the account exists by then);
 * it is logged at error level with the whole event so it can be replayed.
 */
import type { Module } from './module';

export const installEvents: Module = ({ services }) => {
  services.auth.onRegistered(async (user, log) => {
    const data = { userId: user.id, email: user.email, name: user.name };
    try {
      await services.events.append('user.registered', data, { id: `user.registered:${user.id}` });
    } catch (err) {
      log.error({ err: (err as Error).message, event: { type: 'user.registered', data } }, 'could not append a domain event');
    }
  });
};
