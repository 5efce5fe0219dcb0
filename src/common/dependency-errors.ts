/**
 * Failures of the control plane's own dependencies (its PostgreSQL and its Redis, with the
 * job queue on it) recognised wherever they surface: pg and pg-pool errors, TypeORM's wrappers,
 * ioredis and BullMQ errors, and the raw socket errors under them. Such a failure is not a
 * bug of the request but a dependency being away for a while: 503 with Retry-After, naming
 * the dependency (see toDomainError), never a 500.
 */
export type OwnDependency = 'database' | 'redis';

export interface DependencyFailure {
  dependency: OwnDependency | 'database or Redis';
  /** A short reason without addresses or secrets (an error code or a fixed phrase). */
  reason: string;
}

const endpoints = new Map<string, OwnDependency>();

/** Makes socket errors against this URL's host and port name their dependency (called where the clients are made). */
export function registerDependencyEndpoint(dependency: OwnDependency, url: string): void {
  try {
    const parsed = new URL(url);
    const port = parsed.port || (dependency === 'database' ? '5432' : '6379');
    const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    endpoints.set(`${host}:${port}`, dependency);
    if (host === 'localhost') {
      endpoints.set(`127.0.0.1:${port}`, dependency);
      endpoints.set(`::1:${port}`, dependency);
    }
  } catch {
    // an invalid URL fails elsewhere, loudly
  }
}

/** SQLSTATE classes and codes that mean "no usable connection", not "bad query". */
function connectionSqlState(code: unknown): boolean {
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return false;
  // 08: connection exception; 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
  // now (starting up, shutting down, recovery), 57P05 idle session timeout; 53300 too many
  // connections; 40001/40P01 are not (a retry of the transaction, the caller's business).
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '57P05', '53300'].includes(code);
}

const DATABASE_MESSAGES: [RegExp, string][] = [
  [/^Connection terminated/i, 'connection terminated'],
  [/timeout exceeded when trying to connect/i, "no connection within the pool's connect timeout"],
  [/Client has encountered a connection error and is not queryable/i, 'connection error'],
  [/Client was closed and is not queryable/i, 'connection closed'],
  [/Query read timeout/i, 'query read timeout'],
  [
    /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)/i,
    'the database system is restarting',
  ],
  [/terminating connection due to administrator command/i, 'the server ended the session'],
  [/Database connection provided by a query runner was already released/i, 'connection lost during a transaction'],
  [/Query runner already released/i, 'connection lost during a transaction'],
];
const DATABASE_ERROR_NAMES = new Set([
  'QueryRunnerAlreadyReleasedError',
  'ConnectionIsNotSetError',
  'CannotExecuteNotConnectedError',
  'CannotConnectAlreadyConnectedError',
]);

const REDIS_MESSAGES: [RegExp, string][] = [
  [/Stream isn't writeable and enableOfflineQueue options is false/i, 'not connected'],
  [/^Connection is closed\.?$/i, 'connection closed'],
  [/^Command timed out$/i, 'command timed out'],
  [/max retries per request limit/i, 'not connected (retries exhausted)'],
  [/^LOADING\b/, 'Redis is loading its data'],
  [/Connection in subscriber mode/i, 'connection in subscriber mode'],
];
const REDIS_ERROR_NAMES = new Set(['MaxRetriesPerRequestError']);

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'ENOTCONN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  severity?: unknown;
  address?: unknown;
  port?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The dependency failure behind `error` (looking through driverError, cause and AggregateError), or undefined. */
export function dependencyFailure(error: unknown, depth = 0): DependencyFailure | undefined {
  if (!error || typeof error !== 'object' || depth > 4) return undefined;
  const e = error as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const code = typeof e.code === 'string' ? e.code : undefined;

  // pg's DatabaseError (a server error carries a severity and a SQLSTATE).
  if (typeof e.severity === 'string' && connectionSqlState(code)) return { dependency: 'database', reason: `SQLSTATE ${code}` };
  if (DATABASE_ERROR_NAMES.has(name)) return { dependency: 'database', reason: 'connection lost during a transaction' };
  if (REDIS_ERROR_NAMES.has(name)) return { dependency: 'redis', reason: 'not connected (retries exhausted)' };
  for (const [pattern, reason] of DATABASE_MESSAGES) if (pattern.test(message)) return { dependency: 'database', reason };
  for (const [pattern, reason] of REDIS_MESSAGES) if (pattern.test(message)) return { dependency: 'redis', reason };
  if (code && SOCKET_CODES.has(code)) {
    const where = typeof e.address === 'string' && e.port !== undefined ? endpoints.get(`${e.address}:${e.port}`) : undefined;
    return { dependency: where ?? 'database or Redis', reason: code };
  }
  for (const inner of [e.driverError, e.cause]) {
    const found = dependencyFailure(inner, depth + 1);
    if (found) return found;
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = dependencyFailure(inner, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** The operator's sentence for a dependency failure. */
export function describeDependencyFailure(failure: DependencyFailure): string {
  const what =
    failure.dependency === 'database'
      ? 'its database (PostgreSQL)'
      : failure.dependency === 'redis'
        ? 'its Redis'
        : 'its database or Redis';
  return `the control plane cannot reach ${what} right now (${failure.reason}); try again in a few seconds`;
}
