/**
 * The small, typed set of ways a call to an outside system fails. Checks and procedures
 * turn these into verdicts and messages; nothing outside src/integrations/ sees a client
 * library's own errors.
 */
export type IntegrationFailure = 'unreachable' | 'timeout' | 'refused' | 'bad_response';

export class IntegrationError extends Error {
  constructor(
    /** The system, as named in the inventory: docker, erp-database, erp-redis, prometheus, ... */
    readonly system: string,
    readonly failure: IntegrationFailure,
    message: string,
    /** HTTP status, when the system answered over HTTP. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'IntegrationError';
  }
}

/** Options every integration call takes: an explicit timeout, and an optional abort signal. */
export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The errno-style code of an error or of its cause (undici wraps socket errors in `cause`). */
export function errorCode(error: unknown): string | undefined {
  let current: any = error;
  for (let depth = 0; current && depth < 4; depth++) {
    if (typeof current.code === 'string') return current.code;
    if (Array.isArray(current.errors) && current.errors[0]?.code) return current.errors[0].code; // AggregateError (happy eyeballs)
    current = current.cause;
  }
  return undefined;
}

/** The innermost useful message of an error chain, on one line and bounded. */
export function errorText(error: unknown): string {
  let current: any = error;
  let text = '';
  for (let depth = 0; current && depth < 4; depth++) {
    if (typeof current.message === 'string' && current.message && current.message !== 'fetch failed') text = current.message;
    current = current.cause;
  }
  if (!text) text = String((error as any)?.message ?? error);
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ECONNRESET',
  'EPIPE',
  'ENOENT',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);
const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);
const REFUSED_CODES = new Set([
  'EACCES',
  'EPERM',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The failure kind of a socket-level error code, if it is one. */
export function socketFailure(code: string | undefined): IntegrationFailure | undefined {
  if (!code) return undefined;
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (REFUSED_CODES.has(code)) return 'refused';
  return undefined;
}

/** Human wording of a socket error code. */
export function describeCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens there)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOENT':
      return 'socket file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return code;
  }
}
