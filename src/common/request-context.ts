import { ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { Role } from '../guards/rights';

/** Who is calling: a signed-in user (JWT) or a script (API token). */
export interface Identity {
  kind: 'user' | 'token';
  /** User id, or API token id. */
  id: string;
  /** Username, or `token:<name>` for API tokens. */
  username: string;
  role: Role;
}

/** What the control plane attaches to each request (Express and Fastify alike). */
export interface OpsRequest {
  id?: string;
  headers: Record<string, string | string[] | undefined>;
  ip?: string;
  method?: string;
  url?: string;
  body?: unknown;
  params?: Record<string, string>;
  query?: Record<string, unknown>;
  identity?: Identity;
  /** Set by a handler to name what a mutation acted on, for the audit trail. */
  auditTarget?: string;
  routeOptions?: { url?: string };
  route?: { path?: string };
  raw?: unknown;
}

export function requestOf(context: ExecutionContext): OpsRequest {
  if (context.getType<string>() === 'graphql') {
    return GqlExecutionContext.create(context).getContext().req as OpsRequest;
  }
  return context.switchToHttp().getRequest<OpsRequest>();
}

export function requestId(req: OpsRequest | undefined): string | undefined {
  if (!req) return undefined;
  return req.id ? String(req.id) : undefined;
}

export function clientAddress(req: OpsRequest | undefined): string | undefined {
  return req?.ip;
}
