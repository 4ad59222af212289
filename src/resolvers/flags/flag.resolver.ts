import { Arg, Authorized, Ctx, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import type { FlagView } from '../../services/flags/flag.service';
import { checkVisitorId } from '../../types/analytics/analytics.input';
import { FlagInput } from '../../types/flags/flag.input';
import { toFlag } from '../../types/flags/flag.mappers';
import { Flag } from '../../types/flags/flag.type';
import { ListSize } from '../../types/list-size';

/** FLAGS_MAX's ceiling: no list of flags is longer. */
const MOST_FLAGS = 10_000;

const VISITOR_ARG = {
  nullable: true,
  description: 'Counts only for callers without a session, and for admins, as in assignVariant: a caller with a session is its session.',
} as const;

@Resolver(() => Flag)
export class FlagResolver {
  @ListSize({ max: MOST_FLAGS })
  @Query(() => [Flag], {
    description:
      'Anyone: every flag as it applies to the caller (`enabled`: whether the caller gets it), decided per viewer like assignVariant. Answered from memory.',
  })
  async flags(@Arg('visitorId', () => String, VISITOR_ARG) visitorId: string | null, @Ctx() { ctx, services }: ResolverContext): Promise<Flag[]> {
    checkVisitorId(visitorId);
    return (await services.flags.forCaller(ctx, visitorId)).map(toFlag);
  }

  @Authorized('ADMIN')
  @ListSize({ max: MOST_FLAGS })
  @Query(() => [Flag], { description: 'Admin only. Every flag as set (`enabled`: the switch), by key.' })
  async flagSettings(@Ctx() { services }: ResolverContext): Promise<Flag[]> {
    return (await services.flags.definitions()).map(toFlag);
  }

  @Authorized('ADMIN')
  @Audited((args) => (args.input as { key: string }).key)
  @Mutation(() => Flag, {
    description: 'Admin only. Creates or changes a flag; every instance answers with it within a second. QUOTA_EXCEEDED for a new flag past FLAGS_MAX.',
  })
  async setFlag(@Arg('input', () => FlagInput) input: FlagInput, @Ctx() { services }: ResolverContext): Promise<Flag> {
    return toFlag(await services.flags.set(input));
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.key))
  @Mutation(() => Boolean, { description: 'Admin only. Deletes a flag; false when there was none.' })
  deleteFlag(@Arg('key') key: string, @Ctx() { services }: ResolverContext): Promise<boolean> {
    return services.flags.delete(key);
  }

  @ListSize({ max: MOST_FLAGS })
  @Subscription(() => [Flag], {
    subscribe: async ({ args, context }) => {
      const { ctx, services } = context as ResolverContext;
      const visitorId = (args as { visitorId?: string | null }).visitorId;
      checkVisitorId(visitorId);
      return services.flags.watch(ctx, visitorId);
    },
    description: "Anyone: the caller's flags again, as in `flags`, whenever an admin changes one on any instance.",
  })
  flagsUpdated(@Root() flags: FlagView[], @Arg('visitorId', () => String, { ...VISITOR_ARG, validate: false }) _visitorId?: string | null): Flag[] {
    return flags.map(toFlag);
  }
}
