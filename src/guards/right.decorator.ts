import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { RightName, RIGHTS, rolesWithRight } from '../common/rights';

export const RIGHT_KEY = 'ops:right';
export const PUBLIC_KEY = 'ops:public';
export const AUDIT_ACTION_KEY = 'ops:audit-action';

export const NO_RATE_LIMIT_KEY = 'ops:no-rate-limit';

export interface RightOptions {
  /** The audit action name of a mutation, e.g. `tokens.create`. */
  action?: string;
}

export interface PublicOptions extends RightOptions {
  /** Probes (liveness, readiness, metrics) are not rate limited and do not wait on Redis. */
  rateLimit?: boolean;
}

/**
 * Declares the right a REST route or GraphQL field requires. The global guard denies
 * every route that declares neither this nor @Public(). It also documents the right
 * in openapi.json (x-required-right) with the bearer security scheme.
 */
export function RequireRight(right: RightName, options: RightOptions = {}) {
  const def = RIGHTS[right];
  const decorators = [
    SetMetadata(RIGHT_KEY, right),
    ApiBearerAuth('bearer'),
    ApiExtension('x-required-right', { right, level: def.level, domain: def.domain, roles: rolesWithRight(right) }),
    ApiUnauthorizedResponse({ description: 'Missing, invalid, expired or revoked bearer token' }),
    ApiForbiddenResponse({ description: `Requires the right ${right} (${def.level}); the body names whom to escalate to` }),
  ];
  if (options.action) decorators.push(SetMetadata(AUDIT_ACTION_KEY, options.action));
  return applyDecorators(...decorators);
}

/** Opt-out of authentication: only login, liveness/readiness and metrics. */
export function Public(options: PublicOptions = {}) {
  const decorators = [SetMetadata(PUBLIC_KEY, true), ApiExtension('x-required-right', { right: 'public' })];
  if (options.rateLimit === false) decorators.push(SetMetadata(NO_RATE_LIMIT_KEY, true));
  if (options.action) decorators.push(SetMetadata(AUDIT_ACTION_KEY, options.action));
  return applyDecorators(...decorators);
}
