/**
 * Query limits checked before execution: depth, aliases and directives as
 * validation rules, tokens at parse time, and a cost ceiling. Cost: every field
 * that returns an object costs 1, leaves cost 0 except at the root (so each
 * root field, aliased or not, costs at least 1), and a list multiplies its
 * children by the items it can return: its size argument (`limit`) when given,
 * else what its resolver returns without it, as `@ListSize` declares (a list
 * without a declaration, which the schema test forbids, counts its `limit` or 10).
 * A root field taking a batch (`inputs`, e.g. enqueueJobs) costs per item. A plain
 * query of a few scalar fields therefore costs 1.
 */
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isLeafType,
  isListType,
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { AppError, ErrorCode } from '../util/errors';
import { listItems, listSizeOf } from '../types/list-size';

export interface QueryLimits {
  depth: number;
  aliases: number;
  directives: number;
  tokens: number;
  cost: number;
}

const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);
/** Items of a list without a @ListSize and without a `limit` argument (none in the gateway's schema). */
const UNDECLARED_LIST_SIZE = 10;

/** Items a list field returns for these arguments (see {@link listItems}). */
function itemsOf(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>): number {
  const spec = listSizeOf(field);
  if (spec) return listItems(spec, args);
  return typeof args.limit === 'number' && args.limit > 0 ? args.limit : UNDECLARED_LIST_SIZE;
}

export const costEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  // Introspection reads the in-memory schema, not Redis; GraphiQL's schema query would otherwise cost ~15000.
  if (field.name.startsWith('__')) return 0;
  const leaf = isLeafType(getNamedType(field.type));
  // A root field taking a batch (`inputs: [...]`) costs what one call per item would.
  const batch = ROOTS.has(type.name) && Array.isArray(args.inputs) ? args.inputs.length : 0;
  const own = batch || (leaf ? (ROOTS.has(type.name) ? 1 : 0) : 1);
  const many = isListType(getNullableType(field.type)) ? batch || itemsOf(field, args) : 1;
  return own + many * childComplexity;
};

/**
 * Validation errors reported at most, on HTTP and WebSocket alike; graphql-js then adds "Too many
 * validation errors, error limit reached. Validation aborted." and stops. Each error costs a stack
 * trace and a scan of the document for its location: with graphql-js's default of 100, refusing a
 * 1,000-token document of unknown fields took ~7 ms of validation, with 10 ~1.2 ms.
 */
export const VALIDATION_MAX_ERRORS = 10;

/** Documents that expand (through fragments) to more field visits than this are refused without further counting. */
export const MAX_VISITED_NODES = 10_000;

export const tooManyNodes = (): AppError =>
  new AppError(ErrorCode.QUERY_TOO_COMPLEX, `Query expands to more than ${MAX_VISITED_NODES} fields`, { maxNodes: MAX_VISITED_NODES });

/**
 * The operation's cost, at least 1. Throws QUERY_TOO_COMPLEX when the document
 * expands past {@link MAX_VISITED_NODES}, and BAD_USER_INPUT when its variables
 * do not fit their types (cost depends on them, so they are checked here first).
 */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>): number {
  let cost: number;
  try {
    cost = getComplexity({ schema, query: document, operationName, variables, estimators: [costEstimator], maxQueryNodes: MAX_VISITED_NODES });
  } catch (err) {
    if (err instanceof AppError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    if (/maximum allowed number of nodes/.test(message)) throw tooManyNodes();
    throw new AppError(ErrorCode.BAD_USER_INPUT, message);
  }
  return Math.max(1, cost);
}

/** A UTF-16 surrogate without its other half: text no encoding can carry. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * BAD_USER_INPUT when any string among the variables (values or keys, however deep) holds a lone
 * surrogate. JSON can carry one (`"\ud800"`) and GraphQL's String accepts it, but it is not text:
 * it has no UTF-8 form, so Redis scripts' JSON decoder refuses it (an INTERNAL_SERVER_ERROR
 * otherwise) and a value stored without a script would come back altered. The document's own
 * literals are refused by graphql-js's lexer already. Walked without recursion: the body limit
 * bounds the work, and no nesting can exhaust the stack.
 */
export function assertWellFormedVariables(variables: unknown): void {
  const stack: unknown[] = [variables];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) throw illFormedText();
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        if (LONE_SURROGATE.test(k)) throw illFormedText();
        stack.push(item);
      }
    }
  }
}

const illFormedText = (): AppError =>
  new AppError(ErrorCode.BAD_USER_INPUT, 'Variables must be well-formed Unicode text: a string holds a lone surrogate (U+D800 to U+DFFF)');

export function costTooHigh(cost: number, max: number): AppError {
  return new AppError(ErrorCode.QUERY_TOO_COMPLEX, `Query cost ${cost} exceeds the maximum of ${max}`, { cost, maxCost: max });
}

/** The refusal of a document over the depth, alias or directive limit (also raised by the shape check). */
export function limitError(what: string, max: number): GraphQLError {
  return new GraphQLError(`Query has too many ${what}: the maximum is ${max}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: what } });
}

/** Looks a fragment up by name (a validation context's, or the shape check's own map). */
export type FragmentLookup = (name: string) => FragmentDefinitionNode | undefined | null;

/**
 * Depth of a selection set. A fragment's depth does not depend on where it is
 * spread, so it is computed once per fragment: without that, fragments that
 * spread the next one twice cost 2^n to measure.
 */
export function depthOf(set: SelectionSetNode | undefined, fragmentOf: FragmentLookup, memo: Map<string, number>): number {
  if (!set) return 0;
  let max = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      // Introspection is bounded by the schema itself (and switched off by INTROSPECTION); GraphiQL's own query nests deeper than 12.
      if (sel.name.value.startsWith('__')) continue;
      max = Math.max(max, sel.selectionSet ? 1 + depthOf(sel.selectionSet, fragmentOf, memo) : 1);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(sel.selectionSet, fragmentOf, memo));
    } else {
      const name = sel.name.value;
      let d = memo.get(name);
      if (d === undefined) {
        // A cycle (refused by NoFragmentCycles anyway) counts as 0 while it is being measured.
        memo.set(name, 0);
        d = depthOf(fragmentOf(name)?.selectionSet, fragmentOf, memo);
        memo.set(name, d);
      }
      max = Math.max(max, d);
    }
  }
  return max;
}

export function depthRule(max: number): ValidationRule {
  return (ctx): ASTVisitor => {
    const memo = new Map<string, number>();
    const fragmentOf: FragmentLookup = (name) => ctx.getFragment(name);
    return {
      OperationDefinition(op) {
        if (depthOf(op.selectionSet, fragmentOf, memo) > max) ctx.reportError(limitError('nested levels', max));
      },
    };
  };
}

export function aliasRule(max: number): ValidationRule {
  return (ctx): ASTVisitor => {
    let count = 0;
    return {
      Field(node) {
        if (node.alias && ++count === max + 1) ctx.reportError(limitError('aliases', max));
      },
    };
  };
}

export function directiveRule(max: number): ValidationRule {
  return (ctx): ASTVisitor => {
    let count = 0;
    return {
      Directive() {
        if (++count === max + 1) ctx.reportError(limitError('directives', max));
      },
    };
  };
}

export const limitRules = (l: QueryLimits): ValidationRule[] => [depthRule(l.depth), aliasRule(l.aliases), directiveRule(l.directives)];
