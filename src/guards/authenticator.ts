import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/errors';
import { clientAddress, Identity, OpsRequest, requestId } from '../common/request-context';
import { INVENTORY } from '../config/config.module';
import { Inventory } from '../config/inventory.schema';
import { AuditService } from '../audit/audit.service';
import { looksLikeApiToken, TokensService } from '../modules/auth/tokens.service';
import { JwtStrategy } from '../modules/auth/jwt.strategy';
import { RateLimiter } from './rate-limiter';
import { principalHasRight, RightDefinition, RightName, RIGHTS, rolesWithRight } from '../common/rights';

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
  return (
    failure === undefined ||
    name === 'JsonWebTokenError' ||
    name === 'TokenExpiredError' ||
    name === 'NotBeforeError' ||
    failure instanceof Error === false
  );
}

function unavailable(): DomainError {
  return new DomainError(
    ErrorCode.DependencyUnavailable,
    'the token could not be checked: the control plane cannot reach its database; try again shortly',
    { dependency: 'postgres' },
    5,
  );
}

function bearer(req: OpsRequest): string | undefined {
  const header = req.headers.authorization;
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

/** Marks a request whose caller was already identified and rate limited (once per request). */
const IDENTIFIED = Symbol('ops:identified');

/**
 * Who is calling and whether they may: the identification, rate limit and right check
 * behind the one global guard, shared with the GraphQL gate (so that operations that reach
 * no resolver, such as introspection or `{ __typename }`, pass the same checks). Every
 * refusal is a 401/403 naming the reason, and is audited as denied.
 */
@Injectable()
export class Authenticator {
  constructor(
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    private readonly rateLimiter: RateLimiter,
    private readonly jwtStrategy: JwtStrategy,
    @Inject(INVENTORY) private readonly inventory: Inventory,
  ) {}

  /** Rate limit for calls without an identity (public routes, refused tokens): per client address. */
  consumeAnonymous(req: OpsRequest): Promise<void> {
    return this.rateLimiter.consume(`ip:${req.ip ?? 'unknown'}`);
  }

  /**
   * The caller's identity (JWT or API token), rate limited; a missing or refused token is a
   * 401, audited. Done once per request: GraphQL fields of one operation reuse it.
   */
  async identify(req: OpsRequest, action: string): Promise<Identity> {
    const marked = req as OpsRequest & { [IDENTIFIED]?: Identity };
    if (marked[IDENTIFIED]) return marked[IDENTIFIED];
    const identity = await this.resolve(req, action);
    await this.rateLimiter.consume(`${identity.kind}:${identity.id}`);
    req.identity = identity;
    marked[IDENTIFIED] = identity;
    return identity;
  }

  private async resolve(req: OpsRequest, action: string): Promise<Identity> {
    const token = bearer(req);
    if (!token) {
      await this.consumeAnonymous(req);
      await this.deny(req, { username: 'anonymous' }, action, ErrorCode.Unauthenticated, 'NO_TOKEN');
      throw new DomainError(
        ErrorCode.Unauthenticated,
        'a bearer token is required: sign in at POST /api/v1/auth/login or use an API token, and send "Authorization: Bearer <token>"',
        { reason: 'no token' },
      );
    }
    if (looksLikeApiToken(token)) {
      let result: Identity | { refused: string };
      try {
        result = await this.tokens.authenticate(token);
      } catch {
        throw unavailable();
      }
      if ('refused' in result) {
        await this.consumeAnonymous(req);
        await this.deny(req, { username: 'anonymous' }, action, ErrorCode.Unauthenticated, result.refused);
        throw new DomainError(ErrorCode.Unauthenticated, `API token refused: ${result.refused}`, { reason: result.refused });
      }
      return result;
    }
    try {
      return await this.jwtStrategy.verify(req);
    } catch (failure) {
      if (!isTokenFailure(failure)) throw unavailable();
      await this.consumeAnonymous(req);
      const reason = describeJwtFailure(failure);
      await this.deny(req, { username: 'anonymous' }, action, ErrorCode.Unauthenticated, reason);
      throw new DomainError(ErrorCode.Unauthenticated, `access token refused: ${reason}`, { reason });
    }
  }

  /** 403 (audited) unless the identity holds the right: its role's rights, or a service's scopes. */
  async authorize(req: OpsRequest, identity: Identity, right: RightName, action: string): Promise<void> {
    if (principalHasRight(identity, right)) return;
    const def: RightDefinition = RIGHTS[right];
    const level = def.level;
    const escalateTo =
      level === 'admin' || level === 'read' ? this.inventory.escalation.controlPlaneAdmins : this.inventory.escalation[level].contacts;
    await this.deny(req, identity, action, ErrorCode.Forbidden, 'RIGHT_REQUIRED', { right });
    if (identity.role === 'service') {
      throw new DomainError(
        ErrorCode.Forbidden,
        `the service identity ${identity.username} may only ${(identity.scopes ?? []).join(', ') || 'nothing'}: the right ${right} is not among its scopes`,
        {
          requiredRight: right,
          yourScopes: identity.scopes ?? [],
        },
      );
    }
    throw new DomainError(
      ErrorCode.Forbidden,
      `${identity.role} may not ${def.description.toLowerCase()}: the right ${right} (${level}, ${def.domain}) is required; escalate to ${escalateTo.join(', ')}`,
      {
        requiredRight: right,
        level,
        domain: def.domain,
        yourRole: identity.role,
        rolesWithRight: rolesWithRight(right),
        escalateTo,
        ...(level === 'P1' || level === 'P2' || level === 'P3'
          ? { responseMinutes: this.inventory.escalation[level].responseMinutes }
          : {}),
      },
    );
  }

  deny(
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
