import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, ErrorCode } from '../common/errors';
import { clientAddress, Identity, OpsRequest, requestId, requestOf } from '../common/request-context';
import { INVENTORY } from '../config/config.module';
import { Inventory } from '../config/inventory.schema';
import { AuditService } from '../modules/audit/audit.service';
import { looksLikeApiToken, TokensService } from '../modules/auth/tokens.service';
import { JwtStrategy } from './jwt.strategy';
import { RateLimiter } from './rate-limiter';
import { AUDIT_ACTION_KEY, NO_RATE_LIMIT_KEY, PUBLIC_KEY, RIGHT_KEY } from './right.decorator';
import { RightDefinition, RightName, RIGHTS, roleHasRight, rolesWithRight } from './rights';

function describeJwtFailure(failure: unknown): string {
  if (!failure) return 'no token';
  const error = failure as { name?: string; message?: string };
  switch (error.name) {
    case 'TokenExpiredError':
      return 'token expired';
    case 'NotBeforeError':
      return 'token not yet valid';
    case 'JsonWebTokenError':
      if (/invalid algorithm|jwt signature is required/.test(error.message ?? '')) return 'algorithm not allowed';
      if (/audience/.test(error.message ?? '')) return 'wrong audience';
      if (/issuer/.test(error.message ?? '')) return 'wrong issuer';
      return error.message ?? 'invalid token';
    default:
      return error.message ?? 'invalid token';
  }
}

/** A refusal of the token itself (as opposed to the control plane failing to check it). */
function isTokenFailure(failure: unknown): boolean {
  const name = (failure as { name?: string } | undefined)?.name;
  return failure === undefined || name === 'JsonWebTokenError' || name === 'TokenExpiredError' || name === 'NotBeforeError' || failure instanceof Error === false;
}

function unavailable(): DomainError {
  return new DomainError(ErrorCode.DependencyUnavailable, 'the token could not be checked: the control plane cannot reach its database; try again shortly');
}

function bearer(req: OpsRequest): string | undefined {
  const header = req.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/**
 * The one global guard: deny by default. A route passes only if it is @Public() or the
 * caller (JWT or API token) holds the right the route declares with @RequireRight().
 * Denials are 401/403 with the right required and whom to escalate to, and audited.
 */
@Injectable()
export class OpsAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    private readonly rateLimiter: RateLimiter,
    private readonly jwtStrategy: JwtStrategy,
    @Inject(INVENTORY) private readonly inventory: Inventory,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const req = requestOf(context);
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) {
      if (!this.reflector.getAllAndOverride<boolean>(NO_RATE_LIMIT_KEY, targets)) await this.rateLimiter.consume(`ip:${req.ip ?? 'unknown'}`);
      return true;
    }
    const right = this.reflector.getAllAndOverride<RightName | undefined>(RIGHT_KEY, targets);
    const action = this.reflector.getAllAndOverride<string | undefined>(AUDIT_ACTION_KEY, targets) ?? describeRoute(context);

    const identity = await this.identify(req, action);
    await this.rateLimiter.consume(`${identity.kind}:${identity.id}`);

    if (!right) {
      await this.deny(req, identity, action, ErrorCode.Forbidden, 'RIGHT_UNDECLARED');
      throw new DomainError(ErrorCode.Forbidden, 'this operation declares no right and is denied by default');
    }
    if (!roleHasRight(identity.role, right)) {
      const def: RightDefinition = RIGHTS[right];
      const level = def.level;
      const escalateTo =
        level === 'admin' || level === 'read' ? this.inventory.escalation.controlPlaneAdmins : this.inventory.escalation[level].contacts;
      await this.deny(req, identity, action, ErrorCode.Forbidden, 'RIGHT_REQUIRED', { right });
      throw new DomainError(ErrorCode.Forbidden, `${identity.role} may not ${def.description.toLowerCase()}: the right ${right} (${level}, ${def.domain}) is required; escalate to ${escalateTo.join(', ')}`, {
        requiredRight: right,
        level,
        domain: def.domain,
        yourRole: identity.role,
        rolesWithRight: rolesWithRight(right),
        escalateTo,
        ...(level === 'P1' || level === 'P2' || level === 'P3' ? { responseMinutes: this.inventory.escalation[level].responseMinutes } : {}),
      });
    }
    return true;
  }

  private async identify(req: OpsRequest, action: string): Promise<Identity> {
    const token = bearer(req);
    if (!token) {
      await this.rateLimiter.consume(`ip:${req.ip ?? 'unknown'}`);
      await this.deny(req, { username: 'anonymous' }, action, ErrorCode.Unauthenticated, 'NO_TOKEN');
      throw new DomainError(ErrorCode.Unauthenticated, 'a bearer token is required: sign in at POST /api/v1/auth/login or use an API token, and send "Authorization: Bearer <token>"', { reason: 'no token' });
    }
    if (looksLikeApiToken(token)) {
      let result: Identity | { refused: string };
      try {
        result = await this.tokens.authenticate(token);
      } catch {
        throw unavailable();
      }
      if ('refused' in result) {
        await this.rateLimiter.consume(`ip:${req.ip ?? 'unknown'}`);
        await this.deny(req, { username: 'anonymous' }, action, ErrorCode.Unauthenticated, result.refused);
        throw new DomainError(ErrorCode.Unauthenticated, `API token refused: ${result.refused}`, { reason: result.refused });
      }
      req.identity = result;
      return result;
    }
    let identity: Identity;
    try {
      identity = await this.jwtStrategy.verify(req);
    } catch (failure) {
      if (!isTokenFailure(failure)) throw unavailable();
      await this.rateLimiter.consume(`ip:${req.ip ?? 'unknown'}`);
      const reason = describeJwtFailure(failure);
      await this.deny(req, { username: 'anonymous' }, action, ErrorCode.Unauthenticated, reason);
      throw new DomainError(ErrorCode.Unauthenticated, `access token refused: ${reason}`, { reason });
    }
    req.identity = identity;
    return identity;
  }

  private deny(
    req: OpsRequest,
    actor: Identity | { username: string },
    action: string,
    code: ErrorCode,
    reason: string,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    return this.audit.recordSafely({
      actor,
      action,
      target: req.url?.split('?')[0] ?? null,
      parameters: { reason, ...extra },
      outcome: 'denied',
      errorCode: code,
      requestId: requestId(req),
      clientAddress: clientAddress(req),
    });
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
