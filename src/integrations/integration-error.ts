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
