import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '../common/errors';
import { OpsRequest, requestOf } from '../common/request-context';
import { Authenticator } from './authenticator';
import { AUDIT_ACTION_KEY, NO_RATE_LIMIT_KEY, PUBLIC_KEY, RIGHT_KEY } from './right.decorator';
import { RightName } from '../common/rights';

/**
 * The one global guard: deny by default. A route passes only if it is @Public() or the
 * caller (JWT or API token) holds the right the route declares with @RequireRight().
 * Denials are 401/403 with the right required and whom to escalate to, and audited.
 */
@Injectable()
export class OpsAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const req = requestOf(context);
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) {
      if (!this.reflector.getAllAndOverride<boolean>(NO_RATE_LIMIT_KEY, targets)) await this.authenticator.consumeAnonymous(req);
      return true;
    }
    const right = this.reflector.getAllAndOverride<RightName | undefined>(RIGHT_KEY, targets);
    const action = this.reflector.getAllAndOverride<string | undefined>(AUDIT_ACTION_KEY, targets) ?? describeRoute(context);

    const identity = await this.authenticator.identify(req, action);
    if (!right) {
      await this.authenticator.deny(req, identity, action, ErrorCode.Forbidden, 'RIGHT_UNDECLARED');
      throw new DomainError(ErrorCode.Forbidden, 'this operation declares no right and is denied by default');
    }
    await this.authenticator.authorize(req, identity, right, action);
    return true;
  }
}

/** A readable action name for routes without an explicit one: `GET /api/v1/x` or `graphql.Query.me`. */
export function describeRoute(context: ExecutionContext): string {
  if (context.getType<string>() === 'graphql') {
    const info = context.getArgByIndex(3) as { parentType?: { name: string }; fieldName?: string } | undefined;
    return `graphql.${info?.parentType?.name ?? '?'}.${info?.fieldName ?? '?'}`;
  }
  const req = context.switchToHttp().getRequest<OpsRequest>();
  const path = req.routeOptions?.url ?? req.route?.path ?? req.url?.split('?')[0] ?? '?';
  return `${req.method ?? '?'} ${path}`;
}
