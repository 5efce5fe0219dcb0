import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Observable, TimeoutError, catchError, throwError, timeout } from 'rxjs';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DomainError, ErrorCode } from '../common/errors';

const BOUNDED_BY_HANDLER = 'ops:bounded-by-handler';

/**
 * For a handler that waits on queued work with its own bound (e.g. `?wait=true&waitSeconds=`):
 * the global request timeout does not apply to it.
 */
export const BoundedByHandler = () => SetMetadata(BOUNDED_BY_HANDLER, true);

/** Every request ends within OPS_REQUEST_TIMEOUT_MS (long work belongs in a queue). */
@Injectable()
export class TimeoutInterceptor implements NestInterceptor {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (this.reflector.get<boolean>(BOUNDED_BY_HANDLER, context.getHandler())) return next.handle();
    const ms = this.config.OPS_REQUEST_TIMEOUT_MS;
    return next.handle().pipe(
      timeout(ms),
      catchError((error) =>
        throwError(() =>
          error instanceof TimeoutError ? new DomainError(ErrorCode.RequestTimeout, `the request did not finish within ${ms} ms`) : error,
        ),
      ),
    );
  }
}
