/**
 * `@ListSize({...})` beside a list field's `@Field`/`@Query` says how many items it can
 * return, for the cost estimate (plugins/query-limits.ts): a list multiplies the cost of
 * what is selected inside it by that number. Stored as a field extension, like @RateLimit.
 * test/unit/query-limits.test.ts fails for any list field of the schema without one.
 *
 * @example
 * // The resolver returns 50 when `limit` is omitted, and refuses more than 100.
 * @ListSize({ arg: 'limit', default: 50, max: 100 })
 * @Query(() => [Order]) myOrders(...)
 */
import { Extensions } from 'type-graphql';

export interface ListSizeSpec {
  /** The most items the field can ever return (a cap in its resolver or service, or a structural bound such as cart lines). */
  max: number;
  /** The argument that chooses how many (`limit`), when the field takes one. */
  arg?: string;
  /** Items returned when `arg` is omitted. Required with `arg`. */
  default?: number;
}

const EXT = 'listSize';

export function ListSize(spec: ListSizeSpec): MethodDecorator & PropertyDecorator {
  const ok = Number.isInteger(spec.max) && spec.max >= 1 && (spec.arg === undefined) === (spec.default === undefined);
  if (!ok || (spec.default !== undefined && (!Number.isInteger(spec.default) || spec.default < 1 || spec.default > spec.max))) {
    throw new Error(`@ListSize: ${JSON.stringify(spec)} needs an integer max of at least 1, and arg with a default from 1 to max`);
  }
  return Extensions({ [EXT]: { ...spec } });
}

/** The declared size of a field, if any. */
export function listSizeOf(field: { extensions?: Readonly<Record<string, unknown>> | null }): ListSizeSpec | undefined {
  return field.extensions?.[EXT] as ListSizeSpec | undefined;
}

/**
 * Items a field returns for these (coerced) arguments: the size argument when given and
 * positive (never more than `max`), else its default, else `max`.
 */
export function listItems(spec: ListSizeSpec, args: Record<string, unknown>): number {
  const given = spec.arg === undefined ? undefined : args[spec.arg];
  if (typeof given === 'number' && given > 0) return Math.min(given, spec.max);
  return spec.default ?? spec.max;
}
