/**
 * Reads an operation's root fields the way execution will run them: fragments
 * expanded, @skip/@include applied, one entry per response key (so every alias
 * counts), with its arguments coerced from the variables.
 */
import { getArgumentValues, getVariableValues, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { collectFields } from 'graphql/execution/collectFields';
import { policiesOf, signInOf, type SignInAttemptOptions } from '../../types/ratelimit/rate-limit.decorator';
import type { RatePolicy } from '../../services/ratelimit/policy';

export interface RootField {
  name: string;
  policies: RatePolicy[];
  /** Set when the field is a password sign-in (`@SignInAttempt`). */
  signIn: SignInAttemptOptions | null;
  /** Coerced arguments; null when they cannot be coerced (execution will then refuse the operation anyway). */
  args: Record<string, unknown> | null;
}

export function rootFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, rawVariables: Record<string, unknown>): RootField[] {
  const type = schema.getRootType(operation.operation);
  if (!type) return [];
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const def of document.definitions) if (def.kind === 'FragmentDefinition') fragments[def.name.value] = def;
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

/** Follows a dotted path (`input.email`) into coerced arguments. */
export function argAt(args: Record<string, unknown> | null, path: string): unknown {
  let cur: unknown = args;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}
