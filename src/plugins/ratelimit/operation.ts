/**
 * Reads an operation's root fields the way execution will run them: fragments
 * expanded, @skip/@include applied, one entry per response key (so every alias
 * counts), with its arguments coerced from the variables.
 */
import {
  Kind,
  getArgumentValues,
  getVariableValues,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { collectFields } from 'graphql/execution/collectFields';
import { policiesOf, signInOf } from '../../types/ratelimit/rate-limit.decorator';
import type { RootField } from '../../services/ratelimit/root-field';

export type { RootField };

/**
 * Root fields of operations that declare no variables: they follow from the document alone, which
 * Apollo's document cache hands back as the same object for the same text, so they are read once.
 */
const fixed = new WeakMap<OperationDefinitionNode, readonly RootField[]>();

export function rootFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown>,
): readonly RootField[] {
  if (operation.variableDefinitions?.length) return read(schema, document, operation, rawVariables);
  let roots = fixed.get(operation);
  if (!roots) fixed.set(operation, (roots = read(schema, document, operation, {})));
  return roots;
}

function read(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, rawVariables: Record<string, unknown>): RootField[] {
  const type = schema.getRootType(operation.operation);
  if (!type) return [];
  const fragments = Object.create(null) as Record<string, FragmentDefinitionNode>;
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables);
  const variables = coerced.coerced ?? {};
  const fields = collectFields(schema, fragments, variables, type, operation.selectionSet);
  const out: RootField[] = [];
  const defs = type.getFields();
  for (const nodes of fields.values()) {
    const name = nodes[0].name.value;
    const def = defs[name];
    if (!def) {
      out.push({ name, policies: [], signIn: null, args: null });
      continue;
    }
    let args: Record<string, unknown> | null = null;
    if (coerced.coerced) {
      try {
        args = getArgumentValues(def, nodes[0], variables);
      } catch {
        args = null;
      }
    }
    out.push({ name, policies: policiesOf(def), signIn: signInOf(def), args });
  }
  return out;
}
