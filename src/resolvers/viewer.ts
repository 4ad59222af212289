/** Authorization: TypeGraphQL's auth checker and helpers for resolvers. */
import type { AuthChecker } from 'type-graphql';
import type { Actor, RequestContext } from '../services/context';
import type { ResolverContext } from './context';
import { forbidden, sessionEnded, unauthenticated } from '../util/errors';
import type { SessionRecord } from '../services/sessions/session.service';
import type { UserRecord } from '../services/sessions/user.service';

/** UNAUTHENTICATED, saying why when this very request ended the session it presented. */
const notSignedIn = (ctx: RequestContext, message?: string) => (ctx.sessionEnded() ? sessionEnded() : unauthenticated(message));

/**
 * The one role check: UNAUTHENTICATED for a caller who is nobody, FORBIDDEN unless it holds one of
 * `roles` (any caller will do when empty). The caller is an actor: a signed-in user or an API key,
 * so `@Authorized` and the subscribe functions that check by hand agree for every kind of caller.
 * Resolvers that need a user's own data (sessions, carts, orders) also ask for the user.
 */
export async function requireRoles(ctx: RequestContext, roles: readonly string[]): Promise<void> {
  const actor = await ctx.actor();
  if (!actor) throw notSignedIn(ctx);
  if (roles.length && !roles.some((r) => actor.roles.includes(r as Actor['roles'][number]))) throw forbidden();
}

/** `@Authorized()` needs an actor; `@Authorized('ADMIN')` one with one of the roles. */
export const authChecker: AuthChecker<ResolverContext> = async ({ context: { ctx } }, roles) => {
  await requireRoles(ctx, roles);
  return true;
};

/** The actor (user or API key); UNAUTHENTICATED without one. */
export async function signedInActor(ctx: RequestContext): Promise<Actor> {
  const actor = await ctx.actor();
  if (!actor) throw notSignedIn(ctx);
  return actor;
}

/** The role check of `@Authorized('ADMIN')`, for subscribe functions and resolvers that check by hand. */
export async function requireAdmin(ctx: RequestContext): Promise<Actor> {
  const actor = await signedInActor(ctx);
  if (!isAdmin(actor)) throw forbidden();
  return actor;
}

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

/** Whether a user's or an actor's roles include ADMIN. */
export const isAdmin = (who: Pick<UserRecord, 'roles'> | Pick<Actor, 'roles'> | null): boolean => Boolean(who?.roles.includes('ADMIN'));
