/** Query limits without I/O: cost estimation, depth/alias/directive rules, and the fragment blow-up guard. */
import { buildSchema, getNullableType, isListType, isObjectType, parse, specifiedRules, validate, type GraphQLSchema } from 'graphql';
import { buildGatewaySchema } from '../../src/app/schema';
import { aliasRule, depthRule, directiveRule, limitRules, operationCost } from '../../src/plugins/query-limits';
import { listSizeOf } from '../../src/types/list-size';

const sdl = buildSchema(`
  type Query { me: User  users(limit: Int): [User!]!  version: String  count: Int }
  type User { id: ID!  name: String  friends(limit: Int): [User!]!  best: User }
`);

const cost = (schema: GraphQLSchema, q: string, variables: Record<string, unknown> = {}, op?: string): number => operationCost(schema, parse(q), op, variables);
const errorsOf = (q: string, rules = limitRules({ depth: 4, aliases: 3, directives: 2, tokens: 1000, cost: 100 })) =>
  validate(sdl, parse(q), [...specifiedRules, ...rules]).map((e) => e.message);

describe('operationCost', () => {
  let gateway: GraphQLSchema;
  beforeAll(async () => {
    gateway = await buildGatewaySchema();
  });

  test('a plain query of a few scalar fields costs 1', () => {
    expect(cost(gateway, '{ me { id email name createdAt } }')).toBe(1);
    expect(cost(sdl, '{ version count }')).toBe(2);
    expect(cost(sdl, '{ version }')).toBe(1);
    expect(cost(sdl, '{ me { id name } }')).toBe(1);
    expect(cost(sdl, '{ __typename }')).toBe(1);
  });

  test('each root field costs at least 1, aliases included', () => {
    expect(cost(gateway, '{ a: me { id } b: me { id } c: me { id } }')).toBe(3);
  });

  test('nested objects add 1 each; lists multiply their children by limit (default 10)', () => {
    expect(cost(sdl, '{ me { best { best { id } } } }')).toBe(3);
    expect(cost(sdl, '{ users { id } }')).toBe(1);
    expect(cost(sdl, '{ users { best { id } } }')).toBe(1 + 10 * 1);
    expect(cost(sdl, '{ users(limit: 5) { best { id } } }')).toBe(1 + 5 * 1);
    expect(cost(sdl, '{ users(limit: 100) { friends(limit: 100) { best { id } } } }')).toBe(1 + 100 * (1 + 100 * 1));
  });

  test('limit from variables, and only the chosen operation counts', () => {
    expect(cost(sdl, 'query Q($n: Int) { users(limit: $n) { best { id } } }', { n: 3 })).toBe(4);
    expect(cost(sdl, 'query A { version } query B { users(limit: 50) { best { id } } }', {}, 'A')).toBe(1);
    expect(cost(sdl, 'query A { version } query B { users(limit: 50) { best { id } } }', {}, 'B')).toBe(51);
  });

  test('fragments count like inline selections', () => {
    expect(cost(sdl, '{ users(limit: 4) { ...F } } fragment F on User { best { id } }')).toBe(5);
  });
});

describe('list sizes', () => {
  let gateway: GraphQLSchema;
  beforeAll(async () => {
    gateway = await buildGatewaySchema();
  });

  test('every list field of the schema declares how many items it can return (@ListSize)', () => {
    const undeclared: string[] = [];
    for (const type of Object.values(gateway.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        if (!isListType(getNullableType(field.type))) continue;
        const spec = listSizeOf(field);
        if (!spec) undeclared.push(`${type.name}.${field.name}`);
        // A size argument must exist on the field, or the estimate would never see it.
        else if (spec.arg && !field.args.some((a) => a.name === spec.arg)) undeclared.push(`${type.name}.${field.name} (no argument ${spec.arg})`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  test('a list whose limit is omitted costs what its resolver returns: myOrders returns up to 50', () => {
    // Each order's items cost 1: 1 + 50 x 1. It was 1 + 10 x 1 while every list counted 10.
    expect(cost(gateway, '{ myOrders { id items { productId } } }')).toBe(51);
    expect(cost(gateway, '{ myOrders(limit: 5) { id items { productId } } }')).toBe(6);
    expect(cost(gateway, '{ products { id } recommendations(productId: "p") { id } }')).toBe(2);
    // cart 1, its items 1 + 50 lines x 1 product.
    expect(cost(gateway, '{ cart { items { product { id } } } }')).toBe(1 + 1 + 50);
    // analytics 1, its 20 experiments 1 + 20 x (variants 1 + 10 x 0): variants hold scalars only.
    expect(cost(gateway, '{ analytics { experiments { variants { name } } } }')).toBe(1 + 1 + 20);
  });

  test('a size argument never counts past the most the field returns', () => {
    expect(cost(gateway, '{ myOrders(limit: 1000) { items { productId } } }')).toBe(1 + 100);
    expect(cost(gateway, '{ myOrders(limit: 0) { items { productId } } }')).toBe(1 + 50);
  });
});

describe('validation rules', () => {
  test('depth: at the limit passes, one deeper is refused', () => {
    expect(errorsOf('{ me { best { best { id } } } }')).toEqual([]);
    expect(errorsOf('{ me { best { best { best { id } } } } }')).toEqual(['Query has too many nested levels: the maximum is 4']);
  });

  test('depth through fragments and inline fragments', () => {
    expect(errorsOf('{ me { ...A } } fragment A on User { best { ... on User { best { best { id } } } } }')).toEqual([
      'Query has too many nested levels: the maximum is 4',
    ]);
  });

  test('aliases: three pass, four are refused', () => {
    expect(errorsOf('{ a: version b: version c: version }')).toEqual([]);
    expect(errorsOf('{ a: version b: version c: version d: version }')).toEqual(['Query has too many aliases: the maximum is 3']);
  });

  test('directives: two pass, three are refused', () => {
    expect(errorsOf('{ version @skip(if: false) count @include(if: true) }')).toEqual([]);
    expect(errorsOf('{ version @skip(if: false) count @include(if: true) me @skip(if: false) { id } }')).toEqual([
      'Query has too many directives: the maximum is 2',
    ]);
  });

  test('each rule reports once, with a code of its own kind', () => {
    const errs = validate(sdl, parse(`{ ${Array.from({ length: 10 }, (_, i) => `a${i}: version`).join(' ')} }`), [
      aliasRule(2),
      directiveRule(2),
      depthRule(5),
    ]);
    expect(errs).toHaveLength(1);
    expect(errs[0].extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'aliases' });
  });

  test('fragments that spread the next one twice are measured in linear time', () => {
    const n = 60;
    let q = '{ ...F0 }\n';
    for (let i = 0; i < n; i++) q += `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }\n`;
    q += `fragment F${n} on Query { me { best { id } } }\n`;
    const started = Date.now();
    const errs = validate(sdl, parse(q), [depthRule(4)]);
    expect(errs).toEqual([]);
    expect(Date.now() - started).toBeLessThan(500);
    expect(validate(sdl, parse(q), [depthRule(2)]).map((e) => e.message)).toEqual(['Query has too many nested levels: the maximum is 2']);
  });

  test('the cost of such a document is refused as too complex rather than computed forever', () => {
    let q = '{ ...F0 }\n';
    for (let i = 0; i < 40; i++) q += `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }\n`;
    q += 'fragment F40 on Query { version }\n';
    const started = Date.now();
    let code: unknown;
    try {
      operationCost(sdl, parse(q), undefined, {});
    } catch (err) {
      code = (err as { extensions?: { code?: string } }).extensions?.code;
    }
    expect(code).toBe('QUERY_TOO_COMPLEX');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
