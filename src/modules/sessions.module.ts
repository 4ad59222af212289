/** Accounts and sessions: sign-up, sign-in, guest sessions, multi-device sessions; the first admin at start. */
import { AuthResolver } from '../resolvers/sessions/auth.resolver';
import { SessionResolver } from '../resolvers/sessions/session.resolver';
import { UserResolver } from '../resolvers/sessions/user.resolver';
import { AuthService } from '../services/sessions/auth.service';
import { SessionService } from '../services/sessions/session.service';
import { UserService } from '../services/sessions/user.service';
import type { Module } from './module';

export const sessionsModule: Module = {
  name: 'sessions',
  services({ config, redis, keys, pubsub, log }) {
    const users = new UserService(redis, keys, config.sessions.scryptN);
    const sessions = new SessionService(redis, keys, pubsub, config, log);
    return { users, sessions, auth: new AuthService(users, sessions) };
  },
  resolvers: [AuthResolver, SessionResolver, UserResolver],
  async install({ config, services, log }) {
    const admin = config.sessions.admin;
    if (admin && (await services.users.ensureAdmin(admin.email, admin.password))) log.info({ email: admin.email }, 'admin account created');
  },
};
