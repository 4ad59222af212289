/**
 * Accounts and sessions: sign-up, sign-in, guest sessions, multi-device sessions, password change and
 * reset, API keys for other services; the first admin at start.
 */
import { AccountResolver } from '../resolvers/sessions/account.resolver';
import { ApiKeyResolver } from '../resolvers/sessions/api-key.resolver';
import { AuthResolver } from '../resolvers/sessions/auth.resolver';
import { SessionResolver } from '../resolvers/sessions/session.resolver';
import { UserResolver } from '../resolvers/sessions/user.resolver';
import { ApiKeyService } from '../services/sessions/api-key.service';
import { AuthService } from '../services/sessions/auth.service';
import { ResetTokens } from '../services/sessions/reset-tokens';
import { SessionService } from '../services/sessions/session.service';
import { UserService } from '../services/sessions/user.service';
import type { Module } from './module';

export const sessionsModule: Module = {
  name: 'sessions',
  services({ config, redis, keys, pubsub, log }, { cache }) {
    const users = new UserService(redis, keys, config.sessions.scryptN, cache);
    const sessions = new SessionService(redis, keys, pubsub, config, log, cache);
    const resets = new ResetTokens(redis, keys, config.sessions.passwordReset);
    return {
      users,
      sessions,
      auth: new AuthService(users, sessions, resets, config.sessions.passwordReset.url, log),
      apiKeys: new ApiKeyService(redis, keys, pubsub, config.sessions.apiKeysMax),
    };
  },
  resolvers: [AuthResolver, SessionResolver, UserResolver, AccountResolver, ApiKeyResolver],
  async install({ config, services, log }) {
    const admin = config.sessions.admin;
    if (admin && (await services.users.ensureAdmin(admin.email, admin.password))) log.info({ email: admin.email }, 'admin account created');
  },
};
