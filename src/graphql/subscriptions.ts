import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { getOperationAST, GraphQLError, parse } from 'graphql';
import type { Context, SubscribePayload } from 'graphql-ws';
import { OpsRequest } from '../common/request-context';
import { GRAPHQL_PARSE_OPTIONS } from './parse-options';

/** What graphql-ws hands the context function: the connection's init payload and its socket. */
interface WsContext {
  connectionParams?: Record<string, unknown>;
  extra?: { request?: IncomingMessage; socket?: unknown };
}

/** The bearer header of a subscription: `connectionParams.Authorization` (any case of the key). */
function authorizationParam(params: Record<string, unknown> | undefined): string | undefined {
  const value = Object.entries(params ?? {}).find(([key]) => key.toLowerCase() === 'authorization')?.[1];
  return typeof value === 'string' ? value : undefined;
}

/**
 * A request-shaped object for an operation over graphql-ws, so that the one global guard
 * authenticates and authorises subscriptions with the same code as HTTP requests (JWT or
 * API token from `connectionParams.Authorization`, the field's declared right, audit).
 */
export function subscriptionRequest(ctx: WsContext): OpsRequest | undefined {
  // Over HTTP, the context function gets the Fastify request instead (Nest attaches it).
  if (!ctx.extra || !('socket' in ctx.extra)) return undefined;
  const upgrade = ctx.extra.request;
  const authorization = authorizationParam(ctx.connectionParams);
  return {
    id: randomUUID(),
    headers: { ...(authorization ? { authorization } : {}), 'user-agent': upgrade?.headers['user-agent'] },
    ip: upgrade?.socket.remoteAddress,
    method: 'SUBSCRIBE',
    url: '/graphql',
    params: {},
  };
}

/**
 * graphql-ws options: a connection without a bearer token is refused at once (close 4401);
 * only subscriptions are served there (queries and mutations go through POST /graphql and
 * its depth and cost limits).
 */
export const graphqlWsOptions = {
  path: '/graphql',
  onConnect: (ctx: Context) => {
    if (/^Bearer\s+\S+\s*$/i.test(authorizationParam(ctx.connectionParams) ?? '')) return true;
    const socket = (ctx.extra as { socket?: { close(code: number, reason: string): void } }).socket;
    socket?.close(4401, 'Unauthorized: send connectionParams { Authorization: "Bearer <token>" }');
    return false;
  },
  onSubscribe: (_ctx: Context, _id: string, payload: SubscribePayload) => {
    let operation: string | undefined;
    try {
      operation = getOperationAST(parse(payload.query, GRAPHQL_PARSE_OPTIONS), payload.operationName)?.operation;
    } catch (error) {
      return [error instanceof GraphQLError ? error : new GraphQLError('the document is not valid GraphQL')];
    }
    if (!operation || operation === 'subscription') return undefined;
    return [
      new GraphQLError(`operation: a ${operation} is sent as POST /graphql; this WebSocket serves subscriptions only`, {
        extensions: { code: 'BAD_USER_INPUT', errorCode: 'VALIDATION_FAILED', status: 400 },
      }),
    ];
  },
};
