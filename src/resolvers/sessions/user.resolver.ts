import { Ctx, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { User } from '../../types/sessions/user.type';
import { toUser } from '../../types/sessions/sessions.mappers';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The signed-in user; null for guests and anonymous callers.' })
  async me(@Ctx() { ctx }: ResolverContext): Promise<User | null> {
    const user = await ctx.user();
    return user ? toUser(user) : null;
  }
}
