import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import { ApiKey, ApiKeyPayload } from '../../types/sessions/api-key.type';
import { Role } from '../../types/sessions/user.type';
import { toApiKey } from '../../types/sessions/sessions.mappers';
import { ListSize } from '../../types/list-size';

@Resolver(() => ApiKey)
export class ApiKeyResolver {
  @Authorized('ADMIN')
  @Audited((args, result) => `${(result as ApiKeyPayload).apiKey.id} (${String(args.name)})`)
  @Mutation(() => ApiKeyPayload, {
    description:
      'Admin only. A key for another service, acting with `roles`; the key is in this answer only. Name: 1 to 64 letters, digits, spaces, ".", "_" or "-". At most API_KEYS_MAX keys (QUOTA_EXCEEDED past it).',
  })
  async createApiKey(@Arg('name') name: string, @Arg('roles', () => [Role]) roles: Role[], @Ctx() { services }: ResolverContext): Promise<ApiKeyPayload> {
    const { key, record } = await services.apiKeys.create(name, roles);
    return { key, apiKey: toApiKey(record) };
  }

  @Authorized('ADMIN')
  // Who looked at the list of service credentials is worth knowing too.
  @Audited(() => '*')
  // API_KEYS_MAX keys at most; 10000 is the most that variable accepts.
  @ListSize({ max: 10_000 })
  @Query(() => [ApiKey], { description: 'Admin only. Every API key, newest first (never the key itself).' })
  async apiKeys(@Ctx() { services }: ResolverContext): Promise<ApiKey[]> {
    return (await services.apiKeys.list()).map(toApiKey);
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.id))
  @Mutation(() => Boolean, {
    description: 'Admin only. The key stops working on every instance at once, and its open WebSockets close (4401); false when there is no such key.',
  })
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() { services }: ResolverContext): Promise<boolean> {
    return services.apiKeys.revoke(id);
  }
}
