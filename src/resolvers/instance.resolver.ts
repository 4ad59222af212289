import { Authorized, Ctx, Query, Resolver } from 'type-graphql';
import type { Context } from '../context';
import { Instance, toInstance } from '../types/instance.type';

@Resolver(() => Instance)
export class InstanceResolver {
  @Authorized('ADMIN')
  @Query(() => [Instance], { description: 'Admin only. Live gateway and worker processes, gateways first.' })
  async instances(@Ctx() ctx: Context): Promise<Instance[]> {
    return (await ctx.services.registry.list()).map(toInstance);
  }
}
