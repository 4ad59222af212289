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

export function rootFields(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  rawVariables: Record<string, unknown>,
): RootField[] {
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
