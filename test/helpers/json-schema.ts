/**
 * A small JSON Schema checker for the keywords the committed schemas use (type,
 * required, properties, additionalProperties: false, const, enum, items,
 * minLength, minimum, oneOf, local $ref). Returns the problems found, [] when valid.
 */
export type Schema = Record<string, unknown>;

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

export function validate(schema: Schema, value: unknown, root: Schema = schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((o, k) => (o as Schema)[k], root) as Schema;
    return validate(target, value, root, at);
  }
  const errs: string[] = [];
  const t = typeOf(value);
  if (schema.type !== undefined) {
    const types = ([] as string[]).concat(schema.type as string | string[]);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) return [`${at}: ${t} is not ${types.join('|')}`];
  }
  if ('const' in schema && schema.const !== value) errs.push(`${at}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof schema.minLength === 'number' && typeof value === 'string' && value.length < schema.minLength) errs.push(`${at}: too short`);
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum) errs.push(`${at}: below ${schema.minimum}`);
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required ?? []) as string[]) if (!(r in obj)) errs.push(`${at}.${r}: required`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...validate(props[k], v, root, `${at}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${at}.${k}: not allowed`);
    }
  }
  if (t === 'array' && schema.items) (value as unknown[]).forEach((v, i) => errs.push(...validate(schema.items as Schema, v, root, `${at}[${i}]`)));
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter((s) => validate(s, value, root, at).length === 0).length;
    if (passing !== 1) errs.push(`${at}: matches ${passing} of oneOf, not exactly 1`);
  }
  return errs;
}
