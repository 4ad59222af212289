/**
 * schema/schema.graphql is emitted from the code and committed. This fails when
 * the file drifts from the code (run `UPDATE_SCHEMA=1 npx jest test/unit/schema.test.ts`
 * or `npm run schema` to rewrite it), and when the code serves a contract member
 * under another type or signature than ../shared/api/contract.graphql names.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema as buildSdl, isEnumType, isInputObjectType, isObjectType, isScalarType, type GraphQLSchema } from 'graphql';
import { buildGatewaySchema, renderSchema } from '../../src/app/schema';

const root = path.join(__dirname, '..', '..');
const schemaFile = path.join(root, 'schema', 'schema.graphql');
const contractFile = path.join(root, '..', 'shared', 'api', 'contract.graphql');

let code: GraphQLSchema;
beforeAll(async () => {
  code = await buildGatewaySchema();
});

test('schema/schema.graphql matches the code', () => {
  const rendered = renderSchema(code);
  if (process.env.UPDATE_SCHEMA === '1') writeFileSync(schemaFile, rendered);
  expect(readFileSync(schemaFile, 'utf8')).toBe(rendered);
});

/** Every contract member the code serves, with the type the contract names. */
function contractMismatches(contract: GraphQLSchema, actual: GraphQLSchema): { served: number; wrong: string[] } {
  const wrong: string[] = [];
  let served = 0;
  for (const t of Object.values(contract.getTypeMap())) {
    if (t.name.startsWith('__')) continue;
    const a = actual.getType(t.name);
    if (!a) continue;
    if (isScalarType(t)) {
      served++;
      if (!isScalarType(a)) wrong.push(`${t.name} is not a scalar`);
    } else if (isEnumType(t)) {
      if (!isEnumType(a)) wrong.push(`${t.name} is not an enum`);
      else
        for (const v of t.getValues()) {
          served++;
          if (!a.getValue(v.name)) wrong.push(`enum ${t.name} lacks ${v.name}`);
        }
    } else if (isObjectType(t) || isInputObjectType(t)) {
      if (!(isObjectType(t) ? isObjectType(a) : isInputObjectType(a))) {
        wrong.push(`${t.name} has the wrong kind`);
        continue;
      }
      const fields = (a as typeof t).getFields() as Record<string, { type: unknown; args?: Array<{ name: string; type: unknown; defaultValue?: unknown }> }>;
      for (const f of Object.values(t.getFields())) {
        const af = fields[f.name];
        if (!af) {
          if (!isObjectType(t) || !['Query', 'Mutation', 'Subscription'].includes(t.name)) wrong.push(`${t.name}.${f.name} is missing`);
          continue;
        }
        served++;
        if (String(af.type) !== String(f.type)) wrong.push(`${t.name}.${f.name}: ${String(af.type)}, contract ${String(f.type)}`);
        for (const arg of 'args' in f ? f.args : []) {
          const aa = af.args?.find((x) => x.name === arg.name);
          if (!aa || String(aa.type) !== String(arg.type)) wrong.push(`${t.name}.${f.name}(${arg.name}: ${String(arg.type)})`);
        }
        for (const extra of af.args ?? []) {
          const known = ('args' in f ? f.args : []).some((x: { name: string }) => x.name === extra.name);
          if (!known && String(extra.type).endsWith('!') && extra.defaultValue === undefined) wrong.push(`${t.name}.${f.name} adds required ${extra.name}`);
        }
      }
    }
  }
  return { served, wrong };
}

test('every contract member the code serves has the contract name and type', () => {
  expect(existsSync(contractFile)).toBe(true);
  const contract = buildSdl(readFileSync(contractFile, 'utf8'));
  const { served, wrong } = contractMismatches(contract, buildSdl(readFileSync(schemaFile, 'utf8')));
  expect(wrong).toEqual([]);
  expect(served).toBeGreaterThan(0);
});
