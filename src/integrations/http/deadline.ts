/**
 * The deadline of one integration call: options.timeoutMs and options.signal combined into
 * one AbortSignal, and a race that settles with a `timeout` IntegrationError the moment the
 * deadline passes (or the caller aborts), whatever the client library is still doing.
 * Shared by every adapter under src/integrations/.
 */
import { setMaxListeners } from 'node:events';
import { CallOptions, IntegrationError } from '../integration-error';

export interface Deadline {
  /** Aborted when timeoutMs passes or options.signal aborts. */
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Milliseconds left before the deadline (at least 1). */
  remainingMs(): number;
  /** Why the signal aborted, if it did. */
  reason(): 'timeout' | 'aborted' | undefined;
  dispose(): void;
}

export function startDeadline(options: CallOptions): Deadline {
  const timeoutMs = Number.isFinite(options.timeoutMs) && options.timeoutMs > 0 ? options.timeoutMs : 0;
  const started = Date.now();
  const controller = new AbortController();
  // One call may hand the signal to many parallel requests (e.g. one inspect per container).
  setMaxListeners(100, controller.signal);
  let why: 'timeout' | 'aborted' | undefined;
  const abort = (kind: 'timeout' | 'aborted') => {
    if (controller.signal.aborted) return;
    why = kind;
    controller.abort(new Error(kind === 'timeout' ? `deadline of ${timeoutMs} ms passed` : 'aborted by the caller'));
  };
  const timer = setTimeout(() => abort('timeout'), timeoutMs);
  const onCallerAbort = () => abort('aborted');
  if (options.signal?.aborted) abort('aborted');
  else options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  if (timeoutMs === 0) abort('timeout');
  return {
    signal: controller.signal,
    timeoutMs,
    remainingMs: () => Math.max(1, timeoutMs - (Date.now() - started)),
    reason: () => why,
    dispose: () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

/** The error of a call that ran out of time or was aborted by its caller. */
export function deadlineError(system: string, what: string, deadline: Deadline): IntegrationError {
  return deadline.reason() === 'aborted'
    ? new IntegrationError(system, 'timeout', `${system}: ${what} was aborted by the caller before it finished`)
    : new IntegrationError(system, 'timeout', `${system}: ${what} did not finish within ${deadline.timeoutMs} ms`);
}

/**
 * Runs fn under the call's deadline. Settles no later than the deadline: with fn's result,
 * with fn's error mapped by mapError, or with a `timeout` IntegrationError. An error fn
 * throws after the deadline passed is reported as the timeout, not as the library's error.
 */
export async function withDeadline<T>(
  system: string,
  what: string,
  options: CallOptions,
  fn: (deadline: Deadline) => Promise<T>,
  mapError: (error: unknown) => IntegrationError,
): Promise<T> {
  const deadline = startDeadline(options);
  try {
    if (deadline.signal.aborted) throw deadlineError(system, what, deadline);
    const expired = new Promise<never>((_, reject) => {
      deadline.signal.addEventListener('abort', () => reject(deadlineError(system, what, deadline)), { once: true });
    });
    const work = (async () => fn(deadline))().catch((error: unknown) => {
      if (error instanceof IntegrationError) throw error;
      if (deadline.signal.aborted) throw deadlineError(system, what, deadline);
      throw mapError(error);
    });
    return await Promise.race([work, expired]);
  } finally {
    deadline.dispose();
  }
}
