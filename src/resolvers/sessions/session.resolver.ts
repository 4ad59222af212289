import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Session } from '../../types/sessions/session.type';
import { toSession } from '../../types/sessions/sessions.mappers';
import { signedInUser } from '../viewer';
import { ListSize } from '../../types/list-size';

@Resolver(() => Session)
export class SessionResolver {
  @Authorized()
  // SESSIONS_PER_USER sessions at most; 1000 is the most that variable accepts.
  @ListSize({ max: 1000 })
  @Query(() => [Session], { description: "The signed-in user's live sessions, newest first." })
  async mySessions(@Ctx() { ctx, services }: ResolverContext): Promise<Session[]> {
    const { session } = await signedInUser(ctx);
    const list = await services.sessions.list(session.userId);
    return list.map((s) => toSession(s, session.id, services.config.sessions.idleTtlMs));
  }

  @Authorized()
  @Mutation(() => Boolean, { description: "Revokes one of the caller's own sessions; false when there is no such session." })
  async revokeSession(@Arg('id', () => ID) id: string, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    const { session } = await signedInUser(ctx);
    return services.sessions.revoke(session.userId, id);
  }

  @Authorized()
  @Mutation(() => Int, { description: 'Revokes every other session of the caller. Returns how many sessions were revoked.' })
  async revokeOtherSessions(@Ctx() { ctx, services }: ResolverContext): Promise<number> {
    const { session } = await signedInUser(ctx);
    return services.sessions.revokeOthers(session.userId, session.id);
  }
}
