import { ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { Role } from './rights';

/**
 * Who is calling: a principal.
 * - `user`: a person signed in with a password (JWT).
 * - `token`: a person acting through one of their API tokens; it counts as that person
 *   (`userId`, `username` are the owner's) with the token's role, which never exceeds the owner's.
 * - `service`: a service identity (e.g. Alertmanager delivering alerts) with explicit
 *   scopes, no role, no person behind it; it can never approve.
 * - `system`: the control plane itself (the scheduler).
 */
export interface Identity {
  kind: 'user' | 'token' | 'service' | 'system';
  /** User id (user), API token id (token, service), or the system principal's name. */
  id: string;
  /** The person (a token's owner), `service:<name>`, or the system principal's name. */
  username: string;
  /** The role acted with; `service` for service identities (their scopes say what they may do). */
  role: Role | 'service';
  /** The person behind the call (the user, or a token's owner); null for services and the system. */
  userId: string | null;
  /** The API token used, when the call came through one. */
  token?: { id: string; name: string };
  /** A service identity's rights (and nothing else). */
  scopes?: string[];
}

/** Names the control plane itself acts under (audit entries, run records): no person may take them. */
export const RESERVED_USERNAMES = ['scheduler', 'system', 'anonymous', 'unknown'];

/** How an audit entry names the channel: `token:<name>` for a call through an API token. */
export function viaOf(identity: Identity): string | null {
  return identity.token ? `token:${identity.token.name}` : null;
}

/** What the control plane attaches to each request. */
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
  /** The handler wrote the success entry itself, in the transaction of its change (the interceptor writes none). */
  auditWritten?: boolean;
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
