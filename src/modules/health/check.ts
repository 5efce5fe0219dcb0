import { IntegrationError } from '../../integrations/integration-error';

/** Every check ends in one of these; the order is how bad it is. */
export type Verdict = 'pass' | 'warn' | 'unknown' | 'fail';
export const VERDICTS: Verdict[] = ['pass', 'warn', 'unknown', 'fail'];
const RANK: Record<Verdict, number> = { pass: 0, warn: 1, unknown: 2, fail: 3 };

export function worst(verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((a, b) => (RANK[b] > RANK[a] ? b : a), 'pass');
}

/** One observation with a verdict: what was observed, what was expected, how long it took. */
export interface CheckResult {
  /** Stable id, e.g. `service:postgres`, `logs:backend`, `metric:redis-memory`. */
  check: string;
  title: string;
  verdict: Verdict;
  observed: string;
  expected: string;
  durationMs: number;
  /** What to do when it is not a pass (the runbook's next step). */
  nextStep?: string;
  /** Not a pass: the procedure that addresses it (procedures/suggestions.ts). */
  remediation?: string;
  details?: Record<string, unknown>;
}

export interface CheckContext {
  /** Time left for this check, in ms (its own timeout, never past the checklist deadline). */
  timeoutMs: number;
  signal: AbortSignal;
}

/** A named check: one call that yields one or more results. */
export interface CheckDefinition {
  /** Id used for a timed-out or crashed check's single `unknown` result. */
  id: string;
  title: string;
  /** The check's own timeout; the checklist deadline caps it. */
  timeoutMs: number;
  run(ctx: CheckContext): Promise<Omit<CheckResult, 'durationMs'>[]>;
}

/** What an integration failure means for a check: the system answered wrongly or not at all. */
export function describeFailure(error: unknown): { verdict: Verdict; observed: string } {
  if (error instanceof IntegrationError) {
    if (error.failure === 'timeout') return { verdict: 'unknown', observed: `no answer: ${error.message}` };
    return { verdict: 'fail', observed: `${error.failure}: ${error.message}` };
  }
  return { verdict: 'unknown', observed: `check failed: ${(error as Error)?.message ?? String(error)}`.slice(0, 300) };
}

/** A band check: below warn passes, at or above warn warns, at or above fail fails. */
export function bandVerdict(value: number, band: { warn: number; fail: number }): Verdict {
  if (value >= band.fail) return 'fail';
  if (value >= band.warn) return 'warn';
  return 'pass';
}

/** What a single-result check concluded. */
export interface Judgement {
  verdict: Verdict;
  observed: string;
  /** Overrides the check's next step for this outcome. */
  nextStep?: string;
  details?: Record<string, unknown>;
}

export interface SingleCheckSpec {
  id: string;
  title: string;
  timeoutMs: number;
  expected: string;
  /** The next step when it is not a pass. */
  nextStep: string;
  /** Prefix of the observed value when the system failed to answer, e.g. `Prometheus`. */
  system?: string;
  /** The next step when the call itself failed, if not `nextStep`. */
  nextStepOnError?: (error: unknown) => string;
}

/** A check with one result: `judge` decides; a failed call becomes a verdict through describeFailure. */
export function singleCheck(spec: SingleCheckSpec, judge: (ctx: CheckContext) => Promise<Judgement>): CheckDefinition {
  const base = { check: spec.id, title: spec.title, expected: spec.expected };
  return {
    id: spec.id,
    title: spec.title,
    timeoutMs: spec.timeoutMs,
    async run(ctx) {
      try {
        const j = await judge(ctx);
        return [
          {
            ...base,
            verdict: j.verdict,
            observed: j.observed,
            ...(j.details ? { details: j.details } : {}),
            ...(j.verdict === 'pass' ? {} : { nextStep: j.nextStep ?? spec.nextStep }),
          },
        ];
      } catch (error) {
        const { verdict, observed } = describeFailure(error);
        return [
          {
            ...base,
            verdict,
            observed: spec.system ? `${spec.system}: ${observed}` : observed,
            nextStep: spec.nextStepOnError?.(error) ?? spec.nextStep,
          },
        ];
      }
    },
  };
}
