import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext } from '@nestjs/graphql';
import { catchError, concatMap, from, Observable, throwError } from 'rxjs';
import { describeRoute } from '../guards/auth.guard';
import { AUDIT_ACTION_KEY } from '../guards/right.decorator';
import { AuditService } from '../audit/audit.service';
import { toDomainError } from '../common/exception.filter';
import { ErrorCode } from '../common/errors';
import { clientAddress, OpsRequest, requestId, requestOf } from '../common/request-context';

/** Refusals of who is asking, wherever they are decided. */
const DENIED = new Set([ErrorCode.Forbidden, ErrorCode.Unauthenticated]);

/** Bad input is refused before anything happens and is not an action: not audited. */
const NOT_AUDITED = new Set([ErrorCode.ValidationFailed, ErrorCode.PayloadTooLarge, ErrorCode.UnsupportedMediaType, ErrorCode.RateLimited]);

/**
 * Writes one audit entry for every mutation (REST POST/PUT/PATCH/DELETE and GraphQL
 * mutations), successful or failed, with its parameters (secrets masked). Denials are
 * audited by the guard, which runs before this.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const mutation = this.mutationParameters(context);
    if (!mutation) return next.handle();
    const req = requestOf(context);
    const action =
      this.reflector.getAllAndOverride<string | undefined>(AUDIT_ACTION_KEY, [context.getHandler(), context.getClass()]) ??
      describeRoute(context);
    const write = (outcome: 'success' | 'failure' | 'denied', errorCode?: string) =>
      this.audit.recordSafely({
        actor: req.identity ?? { username: actorFromBody(mutation) ?? 'anonymous' },
        action,
        target: req.auditTarget ?? targetOf(req),
        parameters: mutation,
        outcome,
        errorCode: errorCode ?? null,
        requestId: requestId(req),
        clientAddress: clientAddress(req),
      });
    // The entry is written before the response leaves: a client never sees a change
    // that the audit trail does not hold.
    return next.handle().pipe(
      concatMap((value) => from((req.auditWritten ? Promise.resolve() : write('success')).then(() => value))),
      catchError((error: unknown) => {
        const domain = toDomainError(error);
        // A refusal inside the handler (two-person rule, cancel rights, a token above its
        // owner) is a denial like the guard's.
        const outcome = DENIED.has(domain.code) ? 'denied' : 'failure';
        const pending = NOT_AUDITED.has(domain.code) ? Promise.resolve() : write(outcome, domain.code);
        return from(pending).pipe(concatMap(() => throwError(() => error)));
      }),
    );
  }

  /** The parameters of a mutation, or undefined when the call is not one. */
  private mutationParameters(context: ExecutionContext): Record<string, unknown> | undefined {
    if (context.getType<string>() === 'graphql') {
      const gql = GqlExecutionContext.create(context);
      if (gql.getInfo()?.parentType?.name !== 'Mutation') return undefined;
      return gql.getArgs();
    }
    if (context.getType() !== 'http') return undefined;
    const req = context.switchToHttp().getRequest<OpsRequest>();
    if (!req.method || ['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return undefined;
    return { ...(req.params ?? {}), ...(req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {}) };
  }
}

function actorFromBody(parameters: Record<string, unknown>): string | undefined {
  const username = parameters.username ?? (parameters.input as Record<string, unknown> | undefined)?.username;
  return typeof username === 'string' ? username : undefined;
}

function targetOf(req: OpsRequest): string | null {
  const params = req.params ?? {};
  const values = Object.values(params);
  return values.length ? values.join('/') : null;
}
