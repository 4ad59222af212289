/**
 * class-validator for a list argument, item by item, with each failure named by
 * its index (`inputs[2].priority`). TypeGraphQL validates list items too, but
 * its errors do not say which item failed.
 */
import { validate, ValidationError } from 'class-validator';
import { ArgumentValidationError } from 'type-graphql';

export async function validateEach(name: string, items: readonly object[]): Promise<void> {
  const failed: ValidationError[] = [];
  for (const [i, item] of items.entries()) {
    // The same options TypeGraphQL applies to arguments.
    const children = await validate(item, { skipMissingProperties: true, forbidUnknownValues: false });
    if (!children.length) continue;
    const e = new ValidationError();
    e.property = `${name}[${i}]`;
    e.children = children;
    failed.push(e);
  }
  if (failed.length) throw new ArgumentValidationError(failed);
}
