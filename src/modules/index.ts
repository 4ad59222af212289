/**
 * The capability modules, in the order their services are built and their hooks installed
 * (stop steps run in reverse): each module's services may use those listed before it.
 * The schema's resolvers and the service container both come from this one list.
 */
import type { Services } from '../services/container';
import { analyticsModule } from './analytics.module';
import { auditModule } from './audit.module';
import { cacheModule } from './cache.module';
import { commerceModule } from './commerce.module';
import { eventsModule } from './events.module';
import { flagsModule } from './flags.module';
import { instancesModule } from './instances.module';
import { jobsModule } from './jobs.module';
import type { Core, Module, ResolverClass } from './module';
import { rateLimitModule } from './ratelimit.module';
import { sessionsModule } from './sessions.module';

export const MODULES: readonly Module[] = [
  cacheModule,
  auditModule,
  sessionsModule,
  rateLimitModule,
  eventsModule,
  commerceModule,
  analyticsModule,
  flagsModule,
  jobsModule,
  instancesModule,
];

/** Every module's resolver classes, in module order. */
export const moduleResolvers = (): ResolverClass[] => MODULES.flatMap((m) => m.resolvers ?? []);

/** The service container: config, keys and pub/sub, then each module's services in order. */
export function buildServices(core: Core): Services {
  const built = { config: core.config, keys: core.keys, pubsub: core.pubsub } as Services;
  for (const m of MODULES) Object.assign(built, m.services?.(core, built));
  return built;
}
