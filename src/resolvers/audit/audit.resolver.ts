import { Arg, Authorized, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { AuditEntry } from '../../types/audit/audit.type';
import { ListSize } from '../../types/list-size';
import { badInput } from '../../util/errors';

@Resolver()
export class AuditResolver {
  @Authorized('ADMIN')
  @ListSize({ arg: 'limit', default: 50, max: 1000 })
  @Query(() => [AuditEntry], { description: 'Admin only. Newest first; limit 1 to 1000, default 50.' })
  async auditLog(@Arg('limit', () => Int, { nullable: true }) limit: number | null, @Ctx() { services }: ResolverContext): Promise<AuditEntry[]> {
    const n = limit ?? 50;
    if (n < 1 || n > 1000) throw badInput('limit must be from 1 to 1000', { limit: ['must be from 1 to 1000'] });
    return (await services.audit.recent(n)).map((e) => ({ ...e, at: new Date(e.at) }));
  }
}
