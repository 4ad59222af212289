/**
 * The shape check refuses documents plainly over the limits without validating them,
 * and never refuses one that validation and the cost check would let through (a
 * property over generated documents).
 */
import fc from 'fast-check';
import { buildSchema, getIntrospectionQuery, parse, specifiedRules, validate, type GraphQLError } from 'graphql';
import { checkShape } from '../../src/plugins/document-shape';
import { limitRules, operationCost, type QueryLimits } from '../../src/plugins/query-limits';
import { buildGatewaySchema } from '../../src/app/schema';

const sdl = buildSchema(`
  type Query { me: User  users(limit: Int): [User!]!  version: String  count: Int  node: Node }
  interface Node { id: ID! }
  type User implements Node { id: ID!  name: String  friends(limit: Int): [User!]!  best: User }
`);
const LIMITS: QueryLimits = { depth: 4, aliases: 3, directives: 3, tokens: 1000, cost: 15 };
const shape = (q: string, limits = LIMITS, op?: string): GraphQLError | null => checkShape(sdl, parse(q), op, limits);
const refusal = (q: string, limits = LIMITS, op?: string) => {
  const e = shape(q, limits, op);
  return e && { message: e.message, extensions: e.extensions };
};

describe('refuses before validation', () => {
  // What this saves in CPU is measured in bench/refused.ts, not here: npm test asserts no timings.
  test('4,900 unknown fields: the cost is at least 4,900', async () => {
    const gateway = await buildGatewaySchema();
    const doc = parse(`{ ${Array.from({ length: 4900 }, (_, i) => `f${i}`).join(' ')} }`);
    const limits = { ...LIMITS, cost: 1000, aliases: 100, directives: 20, depth: 12 };
    const e = checkShape(gateway, doc, undefined, limits);
    expect(e?.message).toBe('Query cost is at least 4900, over the maximum of 1000');
    expect(e?.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', minCost: 4900, maxCost: 1000 });
  });

  test('aliases, directives and depth: the same errors as the validation rules', () => {
    const cases = [
      '{ a: version b: version c: version d: version }',
      '{ version @skip(if: false) count @include(if: true) me @skip(if: false) { id } users @include(if: true) { id } }',
      '{ me { best { best { best { id } } } } }',
      '{ me { ...A } } fragment A on User { best { ... on User { best { best { id } } } } }',
    ];
    for (const q of cases) {
      const byRules = validate(sdl, parse(q), limitRules(LIMITS)).map((e) => ({ message: e.message, extensions: e.extensions }));
      expect(byRules).toHaveLength(1);
      expect(refusal(q)).toEqual(byRules[0]);
    }
  });

  test("a document whose fragments expand past 10,000 selections: the cost check's own refusal", () => {
    let q = '{ ...F0 }\n';
    for (let i = 0; i < 40; i++) q += `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }\n`;
    q += 'fragment F40 on Query { version }\n';
    expect(refusal(q, { ...LIMITS, cost: 1000 })).toEqual({
      message: 'Query expands to more than 10000 fields',
      extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', maxNodes: 10000 }),
    });
  });

  test('root fields, nested objects and root fragments count; lists at least once', () => {
    expect(refusal('{ me { best { best { id } } } users { friends { id } } version count }', { ...LIMITS, cost: 5 })?.extensions).toMatchObject({ minCost: 7 });
    expect(refusal('{ ...R ...R } fragment R on Query { version count me { id } }', { ...LIMITS, cost: 5 })?.extensions).toMatchObject({ minCost: 6 });
  });

  test('only the operation that runs is costed', () => {
    const q = `query Small { version } query Big { ${Array.from({ length: 20 }, () => 'version').join(' ')} }`;
    expect(shape(q, LIMITS, 'Small')).toBeNull();
    expect(refusal(q, LIMITS, 'Big')?.extensions).toMatchObject({ minCost: 20 });
    // Ambiguous: execution answers that (Must provide operation name).
    expect(shape(q)).toBeNull();
  });
});

describe('lets through', () => {
  test("GraphiQL's introspection query under the default limits", async () => {
    const gateway = await buildGatewaySchema();
    const q = getIntrospectionQuery({
      descriptions: true,
      inputValueDeprecation: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
    });
    expect(checkShape(gateway, parse(q), undefined, { depth: 12, aliases: 100, directives: 20, tokens: 1000, cost: 1000 })).toBeNull();
  });

  test('what @skip/@include, typed fragments and introspection leave out is not counted', () => {
    const cheap = { ...LIMITS, cost: 2 };
    expect(shape('query Q($b: Boolean!) { version count @skip(if: $b) me @include(if: $b) { id } }', cheap)).toBeNull();
    expect(shape('{ node { ... on User { best { best { id } } } } version }', cheap)).toBeNull();
    expect(shape('{ __schema { types { fields { name } } } version count }', cheap)).toBeNull();
  });
});

/** Random documents over the small schema: aliases, arguments, nesting, fragments, conditions. */
const documents = (): fc.Arbitrary<string> => {
  const condition = fc.constantFrom('', '', '', ' @skip(if: $b)', ' @include(if: true)');
  const field = (depth: number): fc.Arbitrary<string> => {
    const leaf = fc.tuple(fc.constantFrom('id', 'name', '__typename'), condition).map(([f, d]) => `${f}${d}`);
    const object = (): fc.Arbitrary<string> =>
      fc.tuple(fc.constantFrom('friends', 'best', 'friends(limit: 2)', 'friends(limit: 0)'), condition, set(depth + 1)).map(([f, d, s]) => `${f}${d} ${s}`);
    return fc.tuple(fc.boolean(), depth >= 4 ? leaf : fc.oneof(leaf, object())).map(([alias, f]) => `${alias ? `a${f.length}: ` : ''}${f}`);
  };
  const set = (depth: number): fc.Arbitrary<string> =>
    fc
      .array(
        fc.oneof(
          field(depth),
          field(depth).map((f) => `... on User { ${f} }`),
          field(depth).map((f) => `... { ${f} }`),
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((fs) => `{ ${fs.join(' ')} }`);
  const rootCondition = fc.constantFrom('', '', ' @skip(if: $b)');
  const root = fc.oneof(
    fc.tuple(fc.constantFrom('version', 'count', '__typename', 'q: version'), rootCondition).map(([f, d]) => `${f}${d}`),
    fc
      .tuple(fc.constantFrom('me', 'users', 'users(limit: 3)', 'node'), rootCondition, set(2))
      .map(([f, d, s]) => (f === 'node' ? `${f}${d} { id ... on User ${s} }` : `${f}${d} ${s}`)),
    fc.constant('...R'),
  );
  return fc
    .array(root, { minLength: 1, maxLength: 10 })
    .map((fs) => `query Q($b: Boolean!) { ${fs.join(' ')} }${fs.includes('...R') ? ' fragment R on Query { version me { best { id } } }' : ''}`);
};

// Every limit small; then only the cost small, so that the cost bound is what refuses.
test.each([
  ['every limit', LIMITS],
  ['the cost', { ...LIMITS, depth: 100, aliases: 1000, directives: 1000 }],
])('property (%s): a document the shape check refuses is refused by validation or by the cost check too', (_name, limits) => {
  let refused = 0;
  fc.assert(
    fc.property(documents(), fc.boolean(), (q, b) => {
      const doc = parse(q);
      if (!checkShape(sdl, doc, undefined, limits)) return;
      refused++;
      const invalid = validate(sdl, doc, [...specifiedRules, ...limitRules(limits)]).length > 0;
      let overCost: boolean;
      try {
        overCost = operationCost(sdl, doc, undefined, { b }) > limits.cost;
      } catch {
        overCost = true;
      }
      expect({ q, refusedAnyway: invalid || overCost }).toEqual({ q, refusedAnyway: true });
    }),
    { numRuns: 500 },
  );
  // Not a vacuous property: a good share of the documents are over some limit.
  expect(refused).toBeGreaterThan(20);
});
