import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import { badInput } from '../../util/errors';
import { checkVisitorId } from '../../types/analytics/analytics.input';
import { toExperiment } from '../../types/analytics/analytics.mappers';
import { ExperimentInput } from '../../types/analytics/experiment.input';
import { Experiment } from '../../types/analytics/experiment.type';
import { ListSize } from '../../types/list-size';

@Resolver(() => Experiment)
export class ExperimentResolver {
  @Authorized('ADMIN')
  @Audited((args) => (args.input as { key: string }).key)
  @Mutation(() => Experiment, {
    description: 'Admin only. Creating the same experiment again returns it; other variants or weights under an existing key are refused.',
  })
  async createExperiment(@Arg('input', () => ExperimentInput) input: ExperimentInput, @Ctx() { services }: ResolverContext): Promise<Experiment> {
    return toExperiment(await services.experiments.create(input));
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.key))
  @Mutation(() => Experiment, {
    description:
      'Admin only. After this, assignVariant gives every visitor `winner` (the first variant when null) and records no exposure; the results stay as they were. The same stop again is a no-op.',
  })
  async stopExperiment(
    @Arg('key') key: string,
    @Arg('winner', () => String, { nullable: true }) winner: string | null,
    @Ctx() { services }: ResolverContext,
  ): Promise<Experiment> {
    return toExperiment(await services.experiments.stop(key, winner ?? null));
  }

  @Mutation(() => String, {
    description:
      'Anyone. Deterministic per viewer: the signed-in user, else the session; visitorId only without a session (or from an admin); else IP and user agent. Records an exposure once.',
  })
  assignVariant(
    @Arg('experiment') experiment: string,
    @Arg('visitorId', () => String, {
      nullable: true,
      description: 'Counts only for callers without a session, and for admins; a caller with a session is its session whatever it sends.',
    })
    visitorId: string | null,
    @Ctx() { ctx, services }: ResolverContext,
  ): Promise<string> {
    checkVisitorId(visitorId);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(experiment)) throw badInput('experiment must be an experiment key', { experiment: ['invalid'] });
    return services.experiments.assign(ctx, experiment, visitorId);
  }

  @Authorized('ADMIN')
  @Query(() => Experiment, { nullable: true, description: 'Admin only.' })
  async experiment(@Arg('key') key: string, @Ctx() { services }: ResolverContext): Promise<Experiment | null> {
    const report = await services.experiments.get(key);
    return report ? toExperiment(report) : null;
  }

  @Authorized('ADMIN')
  @ListSize({ arg: 'limit', default: 20, max: 100 })
  @Query(() => [Experiment], { description: 'Admin only. The most recent first; limit 1 to 100, default 20.' })
  async experiments(@Arg('limit', () => Int, { nullable: true, defaultValue: 20 }) limit: number, @Ctx() { services }: ResolverContext): Promise<Experiment[]> {
    const n = limit ?? 20;
    if (n < 1 || n > 100) throw badInput('limit must be from 1 to 100', { limit: ['must be from 1 to 100'] });
    return (await services.experiments.recent(n)).map(toExperiment);
  }
}
