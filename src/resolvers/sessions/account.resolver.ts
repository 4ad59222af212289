import { Arg, Args, Authorized, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import { ChangePasswordArgs, RequestPasswordResetArgs, ResetPasswordArgs } from '../../types/sessions/auth.input';
import { RateLimit, SignInAttempt } from '../../types/ratelimit/rate-limit.decorator';
import { Role, User } from '../../types/sessions/user.type';
import { toUser } from '../../types/sessions/sessions.mappers';
import { notFound } from '../../util/errors';

/** User ids are made by the gateway (32 hex digits); other text names no user and never reaches a key. */
const USER_ID = /^[0-9a-f]{32}$/;

@Resolver()
export class AccountResolver {
  // A wrong current password is a failed sign-in of the caller's own email (LOGIN_FAILURES_*), and every
  // attempt costs a scrypt hash like a login: the same per-address budget.
  @Authorized()
  @SignInAttempt({ viewer: true })
  @RateLimit({ name: 'login-ip', points: 60, window: '15m', burst: 20, by: 'ip', onRedisDown: 'closed' })
  @Mutation(() => Boolean, {
    description:
      'Signed-in user. Sets a new password (the rules of register) after checking the current one; ends every other session of the user, on every instance. A wrong current password is UNAUTHENTICATED and counts as a failed sign-in.',
  })
  async changePassword(@Args(() => ChangePasswordArgs) args: ChangePasswordArgs, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    await services.auth.changePassword(ctx, args.currentPassword, args.newPassword);
    return true;
  }

  @RateLimit(
    { name: 'password-reset-email', points: 3, window: '1h', burst: 3, by: { arg: 'email', kind: 'email' }, onRedisDown: 'closed' },
    { name: 'password-reset-ip', points: 10, window: '1h', burst: 5, by: 'ip', onRedisDown: 'closed' },
  )
  @Mutation(() => Boolean, {
    description:
      'Anyone. Always true, in about the same time, whether or not the email is known; a known one gets an email with a one-time token (valid PASSWORD_RESET_TTL, 30 minutes).',
  })
  requestPasswordReset(@Args(() => RequestPasswordResetArgs) { email }: RequestPasswordResetArgs, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    return services.auth.requestPasswordReset(ctx, email);
  }

  @RateLimit({ name: 'password-reset-submit-ip', points: 20, window: '1h', burst: 10, by: 'ip', onRedisDown: 'closed' })
  @Mutation(() => Boolean, {
    description:
      'Anyone holding the emailed token: sets the password (the rules of register) and ends every session of the user. Single use; an unknown, used or expired token is BAD_USER_INPUT with one message.',
  })
  async resetPassword(@Args(() => ResetPasswordArgs) args: ResetPasswordArgs, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    await services.auth.resetPassword(ctx, args.token, args.newPassword);
    return true;
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.userId))
  @Mutation(() => Int, { description: 'Admin only. Ends every session of the user (and their WebSockets, on every instance); returns how many.' })
  revokeUserSessions(@Arg('userId', () => ID) userId: string, @Ctx() { services }: ResolverContext): Promise<number> {
    return USER_ID.test(userId) ? services.sessions.revokeAll(userId) : Promise.resolve(0);
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.userId))
  @Mutation(() => User, {
    description:
      'Admin only. Replaces the roles of a user (at least one); every instance acts with the new roles from the next request on (within a second). NOT_FOUND for an unknown user.',
  })
  async setUserRoles(@Arg('userId', () => ID) userId: string, @Arg('roles', () => [Role]) roles: Role[], @Ctx() { services }: ResolverContext): Promise<User> {
    if (!USER_ID.test(userId) || !(await services.users.setRoles(userId, roles))) throw notFound('User');
    const user = await services.users.findById(userId);
    if (!user) throw notFound('User');
    return toUser(user);
  }
}
