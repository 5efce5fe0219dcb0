import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { dependencyFailure, describeDependencyFailure } from './dependency-errors';
import { DomainError, ErrorCode, GRAPHQL_CODE, HTTP_STATUS } from './errors';
import { OpsRequest } from './request-context';

const STATUS_CODE: Record<number, ErrorCode> = {
  400: ErrorCode.ValidationFailed,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  409: ErrorCode.Conflict,
  413: ErrorCode.PayloadTooLarge,
  415: ErrorCode.UnsupportedMediaType,
  429: ErrorCode.RateLimited,
};

/** Any thrown value as a domain error; unknown errors become INTERNAL without their text. */
export function toDomainError(exception: unknown): DomainError {
  if (exception instanceof DomainError) return exception;
  // Nest wraps body-parser errors of either adapter in an HttpException; look at the original.
  if (exception instanceof HttpException && exception.cause && typeof exception.cause === 'object') {
    const mapped = toDomainError(exception.cause);
    if (mapped.code !== ErrorCode.Internal) return mapped;
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse() as { message?: string | string[] } | string;
    const message =
      typeof response === 'string'
        ? response
        : Array.isArray(response.message)
          ? response.message.join('; ')
          : (response.message ?? exception.message);
    if (status === 404) return new DomainError(ErrorCode.NotFound, message || 'no such route');
    return new DomainError(STATUS_CODE[status] ?? (status >= 500 ? ErrorCode.Internal : ErrorCode.ValidationFailed), message);
  }
  const error = exception as { statusCode?: number; status?: number; code?: string; message?: string };
  const status = error?.statusCode ?? error?.status;
  // Body parser errors of Fastify (FST_ERR_CTP_*).
  if (error?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (exception instanceof SyntaxError && status === 400)) {
    return new DomainError(ErrorCode.ValidationFailed, 'body: is not valid JSON', {
      problems: [{ field: 'body', problem: 'is not valid JSON' }],
    });
  }
  if (error?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new DomainError(ErrorCode.ValidationFailed, 'body: is empty although Content-Type is application/json', {
      problems: [{ field: 'body', problem: 'is empty' }],
    });
  }
  if (error?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
    return new DomainError(ErrorCode.PayloadTooLarge, 'body: is larger than the limit of this API (OPS_BODY_LIMIT_BYTES)');
  }
  if (error?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    return new DomainError(ErrorCode.UnsupportedMediaType, 'Content-Type: must be application/json');
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new DomainError(STATUS_CODE[status] ?? ErrorCode.ValidationFailed, error.message ?? 'bad request');
  }
  // Its own PostgreSQL or Redis away (restarting, connection dropped, pool cannot connect):
  // 503 with Retry-After naming the dependency, not a 500.
  const failure = dependencyFailure(exception);
  if (failure)
    return new DomainError(ErrorCode.DependencyUnavailable, describeDependencyFailure(failure), { dependency: failure.dependency });
  return new DomainError(ErrorCode.Internal, "internal error; the request id identifies it in the control plane's log");
}

/**
 * A domain error as GraphQL reports it. `http` also sets the response's status and
 * Retry-After (for errors raised before execution, by the GraphQL gate, which Apollo would
 * otherwise answer with 500).
 */
export function toGraphQLError(error: DomainError, http = false): GraphQLError {
  return new GraphQLError(error.message, {
    extensions: {
      code: GRAPHQL_CODE[error.code],
      errorCode: error.code,
      status: HTTP_STATUS[error.code],
      ...(error.details ? { details: error.details } : {}),
      ...(error.retryAfter ? { retryAfter: error.retryAfter } : {}),
      ...(http
        ? {
            http: {
              status: HTTP_STATUS[error.code],
              headers: new HeaderMap(error.retryAfter ? [['retry-after', String(error.retryAfter)]] : []),
            },
          }
        : {}),
    },
  });
}

/** Maps every error once for HTTP and once for GraphQL. */
@Catch()
export class OpsExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const error = toDomainError(exception);
    if (error.code === ErrorCode.Internal) {
      const raw = exception as Error;
      this.logger.error({ err: { name: raw?.name, message: raw?.message, stack: raw?.stack } }, 'unhandled error');
    }
    if (host.getType<string>() === 'graphql') return toGraphQLError(error);
    const http = host.switchToHttp();
    const request = http.getRequest<OpsRequest>();
    const response = http.getResponse();
    const adapter = this.adapterHost.httpAdapter;
    if (error.retryAfter) adapter.setHeader(response, 'Retry-After', String(error.retryAfter));
    adapter.reply(
      response,
      {
        statusCode: error.status,
        error: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
        requestId: request?.id ? String(request.id) : undefined,
      },
      error.status,
    );
  }
}
