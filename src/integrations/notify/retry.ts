/**
 * The attempts of one channel within one deadline. `timeoutMs` is the channel's whole budget:
 * every attempt, and the backoff between them, fits in it, so a notification settles within
 * timeoutMs whatever the server does. Each attempt gets the time that is left; an attempt cut
 * by the deadline (or by the caller's abort) is not retried.
 *
 * `attempt` gets its time and the channel's signal; it reports failures as outcomes, never throws.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startDeadline } from '../http/deadline';

const ATTEMPT_GRACE_MS = 250;

export type AttemptOutcome = { ok: true } | { ok: false; retryable: boolean; error: string };

export interface AttemptPlan {
  /** Names the call in messages, e.g. "chat: POST https://hooks.example.com/…" (no secrets). */
  what: string;
  timeoutMs: number;
  retries: number;
  /** First pause between attempts; doubled after each retry. */
  backoffMs: number;
  signal?: AbortSignal;
  now: () => number;
}

export interface AttemptsResult {
  delivered: boolean;
  attempts: number;
  error?: string;
  ms: number;
}

export async function runAttempts(
  plan: AttemptPlan,
  attempt: (timeoutMs: number, signal: AbortSignal) => Promise<AttemptOutcome>,
): Promise<AttemptsResult> {
  const started = plan.now();
  const elapsed = () => Math.max(0, Math.round(plan.now() - started));
  const deadline = startDeadline({ timeoutMs: plan.timeoutMs, signal: plan.signal });
  const cut = (after?: string): string => {
    const why = deadline.reason() === 'aborted' ? 'aborted by the caller' : `did not finish within ${deadline.timeoutMs} ms`;
    return after ? `${after}; then ${why} before the next attempt` : `${plan.what} ${why}`;
  };
  let attempts = 0;
  try {
    if (deadline.signal.aborted) {
      return {
        delivered: false,
        attempts: 0,
        error: `${plan.what} was not sent: ${deadline.reason() === 'aborted' ? 'aborted by the caller' : 'no time given'}`,
        ms: elapsed(),
      };
    }
    for (;;) {
      attempts++;
      let outcome: AttemptOutcome;
      try {
        // The channel's signal is the hard cut; the attempt's own timers (socket timeouts, its
        // race) get a little grace so that they never fire first and muddle the message.
        outcome = await attempt(deadline.remainingMs() + ATTEMPT_GRACE_MS, deadline.signal);
      } catch (error) {
        // Attempt functions report failures as outcomes; this is a bug guard, not a path.
        outcome = { ok: false, retryable: false, error: `${plan.what} failed unexpectedly: ${(error as Error)?.name ?? 'error'}` };
      }
      if (outcome.ok) return { delivered: true, attempts, ms: elapsed() };
      if (deadline.signal.aborted) return { delivered: false, attempts, error: cut(), ms: elapsed() };
      if (!outcome.retryable || attempts > plan.retries) return { delivered: false, attempts, error: outcome.error, ms: elapsed() };
      const pause = plan.backoffMs * 2 ** (attempts - 1);
      try {
        await sleep(pause, undefined, { signal: deadline.signal });
      } catch {
        return { delivered: false, attempts, error: cut(outcome.error), ms: elapsed() };
      }
    }
  } finally {
    deadline.dispose();
  }
}
