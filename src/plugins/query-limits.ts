/**
 * Query limits checked before execution: depth, aliases and directives as
 * validation rules, tokens at parse time, and a cost ceiling. Cost: every field
 * that returns an object costs 1, leaves cost 0 except at the root (so each
 * root field, aliased or not, costs at least 1), and a list multiplies its
 * children by its `limit` argument (default 10). A plain query of a few scalar
 * fields therefore costs 1.
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
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { AppError, ErrorCode } from '../errors';

export interface QueryLimits {
  depth: number;
  aliases: number;
  directives: number;
  tokens: number;
  cost: number;
}

const ROOTS = new Set(['Query', 'Mutation', 'Subscription']);
const DEFAULT_LIST_SIZE = 10;

export const costEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  const leaf = isLeafType(getNamedType(field.type));
  const own = leaf ? (ROOTS.has(type.name) ? 1 : 0) : 1;
  const limit = typeof args.limit === 'number' && args.limit > 0 ? args.limit : DEFAULT_LIST_SIZE;
  const many = isListType(getNullableType(field.type)) ? limit : 1;
  return own + many * childComplexity;
};

/** The operation's cost, at least 1. */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>): number {
  const cost = getComplexity({ schema, query: document, operationName, variables, estimators: [costEstimator] });
  return Math.max(1, cost);
}

export function costTooHigh(cost: number, max: number): AppError {
  return new AppError(ErrorCode.QUERY_TOO_COMPLEX, `Query cost ${cost} exceeds the maximum of ${max}`, { cost, maxCost: max });
}

function limitError(what: string, max: number): GraphQLError {
  return new GraphQLError(`Query has too many ${what}: the maximum is ${max}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: what } });
}

function depthOf(set: SelectionSetNode | undefined, ctx: ValidationContext, seen: Set<string>): number {
  if (!set) return 0;
  let max = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) {
      max = Math.max(max, sel.selectionSet ? 1 + depthOf(sel.selectionSet, ctx, seen) : 1);
    } else if (sel.kind === Kind.INLINE_FRAGMENT) {
      max = Math.max(max, depthOf(sel.selectionSet, ctx, seen));
    } else {
      const name = sel.name.value;
      if (seen.has(name)) continue;
      const frag = ctx.getFragment(name);
      max = Math.max(max, depthOf(frag?.selectionSet, ctx, new Set([...seen, name])));
    }
  }
  return max;
}

export function depthRule(max: number): ValidationRule {
  return (ctx): ASTVisitor => ({
    OperationDefinition(op) {
      if (depthOf(op.selectionSet, ctx, new Set()) > max) ctx.reportError(limitError('nested levels', max));
    },
  });
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
