/** What a step gives the backup service, and the small helpers its long operations share. */
import { StepContext } from '../../procedures/procedure';

export const SQL_CALL = { timeoutMs: 30_000 };
export const HOUR = 3_600_000;

/** What a step gives the service: its run, abort signal and progress reporter. */
export interface Work {
  runId: string;
  signal: AbortSignal;
  progress(update: Record<string, unknown>): void;
}

/** The part of a step's context the backup service's long operations use. */
export function workOf(ctx: StepContext<unknown>): Work {
  return { runId: ctx.runId, signal: ctx.signal, progress: ctx.progress };
}

/** Throttles progress reports to one per interval. */
export function throttled(report: (u: Record<string, unknown>) => void, ms = 1000) {
  let last = 0;
  return (update: Record<string, unknown>, force = false) => {
    const now = Date.now();
    if (force || now - last >= ms) {
      last = now;
      report(update);
    }
  };
}

/** pg_dump's or psql's failure as one line: its exit status and the start of its stderr. */
export function toolError(tool: string, exit: number | null, stderr: string): string {
  const text = stderr.replace(/\s+/g, ' ').trim().slice(0, 1500);
  return `${tool} failed (exit status ${exit ?? 'unknown: the process or its container went away'})${text ? `: ${text}` : ''}`;
}
