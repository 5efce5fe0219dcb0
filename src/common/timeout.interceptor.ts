import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, TimeoutError, catchError, throwError, timeout } from 'rxjs';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DomainError, ErrorCode } from './errors';

/** Every request ends within OPS_REQUEST_TIMEOUT_MS (long work belongs in a queue). */
@Injectable()
export class TimeoutInterceptor implements NestInterceptor {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ms = this.config.OPS_REQUEST_TIMEOUT_MS;
    return next.handle().pipe(
      timeout(ms),
      catchError((error) =>
        throwError(() => (error instanceof TimeoutError ? new DomainError(ErrorCode.RequestTimeout, `the request did not finish within ${ms} ms`) : error)),
      ),
    );
  }
}
