import { ASTVisitor, FragmentDefinitionNode, GraphQLError, Kind, SelectionSetNode, ValidationContext } from 'graphql';

const DEFAULT_LIST_SIZE = 50;

interface Measure {
  depth: number;
  cost: number;
}

/**
 * Depth and cost limits for GraphQL operations. Cost counts every field once,
 * multiplied by the page size (`limit` argument) of the lists around it.
 */
function measure(selectionSet: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, depth: number, multiplier: number, seen: Set<string>): Measure {
  let maxDepth = depth;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      const limitArg = selection.arguments?.find((a) => a.name.value === 'limit');
      const size = limitArg?.value.kind === Kind.INT ? Number(limitArg.value.value) : limitArg ? DEFAULT_LIST_SIZE : 1;
      cost += multiplier;
      if (selection.selectionSet) {
        const inner = measure(selection.selectionSet, fragments, depth + 1, multiplier * Math.max(size, 1), seen);
        maxDepth = Math.max(maxDepth, inner.depth);
        cost += inner.cost;
      }
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const inner = measure(selection.selectionSet, fragments, depth, multiplier, seen);
      maxDepth = Math.max(maxDepth, inner.depth);
      cost += inner.cost;
    } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const name = selection.name.value;
      const fragment = fragments[name];
      if (!fragment || seen.has(name)) continue;
      const inner = measure(fragment.selectionSet, fragments, depth, multiplier, new Set([...seen, name]));
      maxDepth = Math.max(maxDepth, inner.depth);
      cost += inner.cost;
    }
  }
  return { depth: maxDepth, cost };
}

export function operationLimits(maxDepth: number, maxCost: number) {
  return (context: ValidationContext): ASTVisitor => {
    const document = context.getDocument();
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
    }
    return {
      OperationDefinition(node) {
        const { depth, cost } = measure(node.selectionSet, fragments, 0, 1, new Set());
        if (depth > maxDepth) {
          context.reportError(new GraphQLError(`query depth ${depth} exceeds the limit of ${maxDepth}`, { extensions: { code: 'BAD_USER_INPUT', errorCode: 'GRAPHQL_LIMIT_EXCEEDED' } }));
        }
        if (cost > maxCost) {
          context.reportError(new GraphQLError(`query cost ${cost} exceeds the limit of ${maxCost}; ask for fewer fields or smaller pages`, { extensions: { code: 'BAD_USER_INPUT', errorCode: 'GRAPHQL_LIMIT_EXCEEDED' } }));
        }
      },
    };
  };
}
