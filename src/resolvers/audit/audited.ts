/**
 * `@Audited((args, result) => target)` on an admin mutation: once the resolver has succeeded, the
 * audit log gets who (the caller), what (the field name) and to what (`target` from the arguments,
 * and the answer where it says what was done, e.g. how many jobs a bulk retry moved).
 */
import { createMethodMiddlewareDecorator } from 'type-graphql';
import type { ResolverContext } from '../context';

export function Audited(target: (args: Record<string, unknown>, result: unknown) => string): MethodDecorator {
  return createMethodMiddlewareDecorator<ResolverContext>(async ({ args, context, info }, next) => {
    const result: unknown = await next();
    await context.services.audit.record(context.ctx, info.fieldName, target(args, result));
    return result;
  });
}
