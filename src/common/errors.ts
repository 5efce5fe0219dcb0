/**
 * Domain errors: one code enum, mapped once to HTTP (exception filter) and once to
 * GraphQL (same filter, GraphQL branch). Messages speak to the operator: what failed,
 * what was expected, what to do next. They never carry a secret.
 */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  Unauthenticated = 'UNAUTHENTICATED',
  InvalidCredentials = 'INVALID_CREDENTIALS',
  AccountLocked = 'ACCOUNT_LOCKED',
  Forbidden = 'FORBIDDEN',
  NotFound = 'NOT_FOUND',
  NotAcceptable = 'NOT_ACCEPTABLE',
  Conflict = 'CONFLICT',
  RateLimited = 'RATE_LIMITED',
  RequestTimeout = 'REQUEST_TIMEOUT',
  DependencyUnavailable = 'DEPENDENCY_UNAVAILABLE',
  GraphqlLimit = 'GRAPHQL_LIMIT_EXCEEDED',
  Internal = 'INTERNAL',
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.GraphqlLimit]: 400,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.Unauthenticated]: 401,
  [ErrorCode.InvalidCredentials]: 401,
  [ErrorCode.AccountLocked]: 429,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.NotAcceptable]: 406,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.RequestTimeout]: 504,
  [ErrorCode.DependencyUnavailable]: 503,
  [ErrorCode.Internal]: 500,
};

/** GraphQL `extensions.code` per domain code (Apollo's conventional names where one exists). */
export const GRAPHQL_CODE: Record<ErrorCode, string> = {
  [ErrorCode.ValidationFailed]: 'BAD_USER_INPUT',
  [ErrorCode.GraphqlLimit]: 'BAD_USER_INPUT',
  [ErrorCode.PayloadTooLarge]: 'BAD_USER_INPUT',
  [ErrorCode.UnsupportedMediaType]: 'BAD_USER_INPUT',
  [ErrorCode.Unauthenticated]: 'UNAUTHENTICATED',
  [ErrorCode.InvalidCredentials]: 'UNAUTHENTICATED',
  [ErrorCode.AccountLocked]: 'TOO_MANY_REQUESTS',
  [ErrorCode.Forbidden]: 'FORBIDDEN',
  [ErrorCode.NotFound]: 'NOT_FOUND',
  [ErrorCode.NotAcceptable]: 'BAD_USER_INPUT',
  [ErrorCode.Conflict]: 'CONFLICT',
  [ErrorCode.RateLimited]: 'TOO_MANY_REQUESTS',
  [ErrorCode.RequestTimeout]: 'TIMEOUT',
  [ErrorCode.DependencyUnavailable]: 'SERVICE_UNAVAILABLE',
  [ErrorCode.Internal]: 'INTERNAL_SERVER_ERROR',
};

export interface FieldProblem {
  field: string;
  problem: string;
}

/** Retry-After (seconds) of a code when the thrower gave none: every 503 tells the client when to come back. */
const DEFAULT_RETRY_AFTER: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.DependencyUnavailable]: 5,
};

export class DomainError extends Error {
  /** Seconds, sent as Retry-After (GraphQL: extensions.retryAfter). */
  readonly retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    retryAfter?: number,
  ) {
    super(message);
    this.name = 'DomainError';
    this.retryAfter = retryAfter ?? DEFAULT_RETRY_AFTER[code];
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  static validation(problems: FieldProblem[]): DomainError {
    const message = problems.map((p) => `${p.field}: ${p.problem}`).join('; ');
    return new DomainError(ErrorCode.ValidationFailed, message || 'invalid request', { problems });
  }

  static notFound(what: string, id: string): DomainError {
    return new DomainError(ErrorCode.NotFound, `${what} ${id} does not exist`, { what, id });
  }
}
