import type { ApolloServerPlugin } from '@apollo/server';
import { FragmentDefinitionNode, Kind } from 'graphql';
import { DomainError, ErrorCode } from '../common/errors';
import { toDomainError, toGraphQLError } from '../common/exception.filter';
import { OpsRequest } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { Authenticator } from '../guards/authenticator';
import { limitErrors, measureOperation, rootFieldNames } from './limits';

const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

/**
 * Every GraphQL operation over HTTP passes here once, after validation and before execution:
 * the caller is identified and rate limited (also an operation that reaches no resolver:
 * introspection, `{ __typename }`), introspection needs the right graphql.introspect (or
 * OPS_GRAPHQL_PUBLIC_INTROSPECTION for anonymous callers), and depth and cost are measured
 * with the operation's variables, so a page size sent as `$limit` counts like a literal.
 * Resolvers then reuse the identity through the global guard, which checks each field's right.
 */
export function graphqlGate(
  authenticator: Authenticator,
  config: Pick<AppConfig, 'OPS_GRAPHQL_MAX_DEPTH' | 'OPS_GRAPHQL_MAX_COST' | 'OPS_GRAPHQL_PUBLIC_INTROSPECTION'>,
): ApolloServerPlugin<{ req?: OpsRequest }> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue, document, operation, request }) {
          const req = contextValue.req;
          if (!req) throw toGraphQLError(new DomainError(ErrorCode.Unauthenticated, 'a bearer token is required'), true);
          const fragments: Record<string, FragmentDefinitionNode> = {};
          for (const definition of document.definitions)
            if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
          try {
            const roots = operation ? rootFieldNames(operation, fragments) : [];
            const introspection = roots.some((name) => INTROSPECTION_FIELDS.has(name));
            const metaOnly = roots.length > 0 && roots.every((name) => name.startsWith('__'));
            const action = `graphql.${operation?.operation ?? 'operation'}${introspection ? '.introspection' : ''}`;
            if (metaOnly && introspection && config.OPS_GRAPHQL_PUBLIC_INTROSPECTION && !req.headers.authorization) {
              await authenticator.consumeAnonymous(req);
            } else {
              const identity = await authenticator.identify(req, action);
              if (introspection) await authenticator.authorize(req, identity, 'graphql.introspect', action);
            }
            if (operation) {
              const [tooBig] = limitErrors(
                measureOperation(operation, fragments, request.variables),
                config.OPS_GRAPHQL_MAX_DEPTH,
                config.OPS_GRAPHQL_MAX_COST,
              );
              if (tooBig) throw tooBig;
            }
          } catch (error) {
            if (error instanceof Error && error.name === 'GraphQLError') throw error;
            throw toGraphQLError(toDomainError(error), true);
          }
        },
      };
    },
  };
}
