/**
 * The shape check: a cheap look at a parsed document, before graphql-js validation.
 * Validation runs some 25 rules over every node with type information (tens of µs per
 * field: a 4,900-field document took ~50 ms), so a document plainly over the limits is
 * refused without it. One pass over the definitions, each fragment measured once:
 *
 * - aliases and directives over the whole document (what the validation rules of
 *   query-limits.ts counted), and each operation's depth;
 * - for the operation to run: the selections it expands to through fragments (what
 *   operationCost refuses past {@link MAX_VISITED_NODES}), and a lower bound of its
 *   cost: every root field costs at least 1 and every field with a selection at least 1
 *   plus what is inside (lists multiply by at least 1).
 *
 * It refuses only documents that validation or the cost check would refuse anyway, with
 * the same errors, except the cost bound's own message ("at least N"): selections under
 * @skip/@include are not counted (their variables are not read here), nor fragments whose
 * type may not apply, nor introspection fields (they cost nothing).
 */
import {
  Kind,
  type DirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { AppError, ErrorCode } from '../util/errors';
import { MAX_VISITED_NODES, depthOf, limitError, tooManyNodes, type QueryLimits } from './query-limits';

type Fragments = Map<string, FragmentDefinitionNode>;

const conditional = (directives: readonly DirectiveNode[] | undefined): boolean =>
  !!directives?.some((d) => d.name.value === 'skip' || d.name.value === 'include');

/** Aliases and directives anywhere in the document, as the validation rules counted them. */
function countMarks(document: DocumentNode): { aliases: number; directives: number } {
  let aliases = 0;
  let directives = 0;
  const walk = (set: SelectionSetNode | undefined): void => {
    for (const sel of set?.selections ?? []) {
      directives += sel.directives?.length ?? 0;
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) aliases++;
        walk(sel.selectionSet);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet);
    }
  };
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION && def.kind !== Kind.FRAGMENT_DEFINITION) continue;
    directives += def.directives?.length ?? 0;
    if (def.kind === Kind.OPERATION_DEFINITION) for (const v of def.variableDefinitions ?? []) directives += v.directives?.length ?? 0;
    walk(def.selectionSet);
  }
  return { aliases, directives };
}

/** Selections visited to cost the set, fragments expanded, as graphql-query-complexity counts them. */
function expandedSize(set: SelectionSetNode | undefined, fragments: Fragments, memo: Map<string, number>): number {
  let n = 0;
  for (const sel of set?.selections ?? []) {
    n += 1;
    if (conditional(sel.directives)) continue;
    if (sel.kind !== Kind.FRAGMENT_SPREAD) {
      n += expandedSize(sel.selectionSet, fragments, memo);
      continue;
    }
    const name = sel.name.value;
    let size = memo.get(name);
    if (size === undefined) {
      // A cycle (refused by validation) counts 0 while it is being measured.
      memo.set(name, 0);
      size = expandedSize(fragments.get(name)?.selectionSet, fragments, memo);
      memo.set(name, size);
    }
    n += size;
  }
  return n;
}

/** At least what the selections inside a field cost: 1 per field with a selection, plus its own. */
function innerCost(set: SelectionSetNode | undefined): number {
  let n = 0;
  for (const sel of set?.selections ?? []) {
    if (conditional(sel.directives)) continue;
    if (sel.kind === Kind.FIELD && sel.selectionSet && !sel.name.value.startsWith('__')) n += 1 + innerCost(sel.selectionSet);
    // Only fragments without a type condition apply to every possible type.
    else if (sel.kind === Kind.INLINE_FRAGMENT && !sel.typeCondition) n += innerCost(sel.selectionSet);
  }
  return n;
}

/** At least what the root selections cost: 1 per root field plus its inner cost; fragments on the root type count. */
function rootCost(set: SelectionSetNode | undefined, root: string, fragments: Fragments, memo: Map<string, number>): number {
  let n = 0;
  for (const sel of set?.selections ?? []) {
    if (conditional(sel.directives)) continue;
    if (sel.kind === Kind.FIELD) {
      if (!sel.name.value.startsWith('__')) n += 1 + innerCost(sel.selectionSet);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      if (!sel.typeCondition || sel.typeCondition.name.value === root) n += rootCost(sel.selectionSet, root, fragments, memo);
    } else {
      const name = sel.name.value;
      const fragment = fragments.get(name);
      if (fragment?.typeCondition.name.value !== root) continue;
      let cost = memo.get(name);
      if (cost === undefined) {
        memo.set(name, 0);
        cost = rootCost(fragment.selectionSet, root, fragments, memo);
        memo.set(name, cost);
      }
      n += cost;
    }
  }
  return n;
}

/** The operation `operationName` selects, as execution will pick it; undefined when that is ambiguous or absent. */
function chosenOperation(document: DocumentNode, operationName: string | undefined): OperationDefinitionNode | undefined {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName !== undefined) return ops.find((o) => o.name?.value === operationName);
  return ops.length === 1 ? ops[0] : undefined;
}

/** The refusal of a document whose shape alone is over the limits, or null. See the file's comment. */
export function checkShape(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, limits: QueryLimits): GraphQLError | null {
  const marks = countMarks(document);
  if (marks.aliases > limits.aliases) return limitError('aliases', limits.aliases);
  if (marks.directives > limits.directives) return limitError('directives', limits.directives);
  const fragments: Fragments = new Map();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION && !fragments.has(def.name.value)) fragments.set(def.name.value, def);
  const depths = new Map<string, number>();
  const lookup = (name: string): FragmentDefinitionNode | undefined => fragments.get(name);
  for (const def of document.definitions) {
    if (def.kind === Kind.OPERATION_DEFINITION && depthOf(def.selectionSet, lookup, depths) > limits.depth) return limitError('nested levels', limits.depth);
  }
  const op = chosenOperation(document, operationName);
  const root = op && schema.getRootType(op.operation)?.name;
  if (!op || !root) return null;
  if (expandedSize(op.selectionSet, fragments, new Map()) >= MAX_VISITED_NODES) return tooManyNodes();
  const atLeast = rootCost(op.selectionSet, root, fragments, new Map());
  if (atLeast > limits.cost) {
    return new AppError(ErrorCode.QUERY_TOO_COMPLEX, `Query cost is at least ${atLeast}, over the maximum of ${limits.cost}`, {
      minCost: atLeast,
      maxCost: limits.cost,
    });
  }
  return null;
}
