import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Instance, toInstance } from '../../types/instances/instance.type';
import { ListSize } from '../../types/list-size';

/** A bound for the cost estimate; a fleet this large is listed in part. */
const MAX_LISTED_INSTANCES = 1000;

@Resolver(() => Instance)
export class InstanceResolver {
  @Authorized('ADMIN')
  @ListSize({ max: MAX_LISTED_INSTANCES })
  @Query(() => [Instance], { description: 'Admin only. Live gateway and worker processes, gateways first.' })
  async instances(@Ctx() { services }: ResolverContext): Promise<Instance[]> {
    return (await services.instances.list()).slice(0, MAX_LISTED_INSTANCES).map(toInstance);
  }
}
