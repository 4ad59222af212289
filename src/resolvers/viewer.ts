/** Authorization: TypeGraphQL's auth checker and helpers for resolvers. */
import type { AuthChecker } from 'type-graphql';
import type { RequestContext } from '../services/context';
import type { ResolverContext } from './context';
import { forbidden, sessionEnded, unauthenticated } from '../util/errors';
import type { SessionRecord } from '../services/sessions/session.service';
import type { UserRecord } from '../services/sessions/user.service';

/** UNAUTHENTICATED, saying why when this very request ended the session it presented. */
const notSignedIn = (ctx: RequestContext, message?: string) => (ctx.sessionEnded() ? sessionEnded() : unauthenticated(message));

/**
 * The one role check: UNAUTHENTICATED for a caller who is nobody, FORBIDDEN unless it holds one of
 * `roles` (any caller will do when empty). It reads the caller's roles from the context, so
 * `@Authorized` and the subscribe functions that check by hand agree for every kind of caller.
 */
export async function requireRoles(ctx: RequestContext, roles: readonly string[]): Promise<void> {
  const user = await ctx.user();
  if (!user) throw notSignedIn(ctx);
  if (roles.length && !roles.some((r) => user.roles.includes(r as UserRecord['roles'][number]))) throw forbidden();
}

/** `@Authorized()` needs a signed-in user; `@Authorized('ADMIN')` one of the roles. */
export const authChecker: AuthChecker<ResolverContext> = async ({ context: { ctx } }, roles) => {
  await requireRoles(ctx, roles);
  return true;
};

/** The signed-in user's session and record; UNAUTHENTICATED otherwise. */
export async function signedInUser(ctx: RequestContext): Promise<{ session: SessionRecord & { userId: string }; user: UserRecord }> {
  const [session, user] = await Promise.all([ctx.session(), ctx.user()]);
  if (!session?.userId || !user) throw notSignedIn(ctx);
  return { session: session as SessionRecord & { userId: string }, user };
}

/** The session (user or guest) acting on this request; UNAUTHENTICATED when there is none. */
export async function anySession(ctx: RequestContext): Promise<SessionRecord> {
  const session = await ctx.session();
  if (!session) throw notSignedIn(ctx, 'Start a guest session or sign in first');
  return session;
}

export const isAdmin = (user: UserRecord | null): boolean => Boolean(user?.roles.includes('ADMIN'));
