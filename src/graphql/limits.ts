import { FragmentDefinitionNode, GraphQLError, Kind, OperationDefinitionNode, SelectionSetNode, ValueNode } from 'graphql';

const DEFAULT_LIST_SIZE = 50;

export interface Measure {
  depth: number;
  cost: number;
}

type Variables = Record<string, unknown> | null | undefined;

/**
 * The page size a field asks for with its `limit` argument: a literal, a variable's value
 * (or its declared default), and the resolvers' default page size when it is not given.
 */
function pageSizeOf(value: ValueNode | undefined, operation: OperationDefinitionNode, variables: Variables): number {
  if (!value) return 1;
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) {
    const name = value.name.value;
    const given = variables?.[name];
    if (typeof given === 'number' && Number.isFinite(given)) return given;
    if (given === undefined) {
      const declared = operation.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
      if (declared?.kind === Kind.INT) return Number(declared.value);
    }
  }
  return DEFAULT_LIST_SIZE;
}

/**
 * Depth and cost of an operation. Cost counts every field once, multiplied by the page
 * sizes (`limit` argument, from literals or variables) of the lists around it; meta fields
 * (`__typename`, introspection) cost nothing here (the gate checks who may introspect).
 */
export function measureOperation(
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Variables,
): Measure {
  const walk = (selectionSet: SelectionSetNode, depth: number, multiplier: number, seen: Set<string>): Measure => {
    let maxDepth = depth;
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue;
        const limitArg = selection.arguments?.find((a) => a.name.value === 'limit');
        const size = pageSizeOf(limitArg?.value, operation, variables);
        cost += multiplier;
        if (selection.selectionSet) {
          const inner = walk(selection.selectionSet, depth + 1, multiplier * Math.max(size, 1), seen);
          maxDepth = Math.max(maxDepth, inner.depth);
          cost += inner.cost;
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const inner = walk(selection.selectionSet, depth, multiplier, seen);
        maxDepth = Math.max(maxDepth, inner.depth);
        cost += inner.cost;
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments[name];
        if (!fragment || seen.has(name)) continue;
        const inner = walk(fragment.selectionSet, depth, multiplier, new Set([...seen, name]));
        maxDepth = Math.max(maxDepth, inner.depth);
        cost += inner.cost;
      }
    }
    return { depth: maxDepth, cost };
  };
  return walk(operation.selectionSet, 0, 1, new Set());
}

/** The root fields an operation selects (through fragments), to tell introspection and `__typename`-only requests. */
export function rootFieldNames(operation: OperationDefinitionNode, fragments: Record<string, FragmentDefinitionNode>): string[] {
  const names: string[] = [];
  const collect = (selectionSet: SelectionSetNode, seen: Set<string>) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.push(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) collect(selection.selectionSet, seen);
      else if (!seen.has(selection.name.value) && fragments[selection.name.value])
        collect(fragments[selection.name.value].selectionSet, new Set([...seen, selection.name.value]));
    }
  };
  collect(operation.selectionSet, new Set());
  return names;
}

/** The limit errors of an operation (none when within both limits). */
export function limitErrors(measure: Measure, maxDepth: number, maxCost: number): GraphQLError[] {
  const errors: GraphQLError[] = [];
  const extensions = { code: 'BAD_USER_INPUT', errorCode: 'GRAPHQL_LIMIT_EXCEEDED', status: 400, http: { status: 400 } };
  if (measure.depth > maxDepth)
    errors.push(new GraphQLError(`query depth ${measure.depth} exceeds the limit of ${maxDepth}`, { extensions }));
  if (measure.cost > maxCost)
    errors.push(
      new GraphQLError(`query cost ${measure.cost} exceeds the limit of ${maxCost}; ask for fewer fields or smaller pages`, { extensions }),
    );
  return errors;
}
