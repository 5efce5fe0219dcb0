import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { EscalationError, StepContext } from '../../../../procedures/procedure';
import { wholeNumber } from '../../../../procedures/parameters';
import { RemediationDeps } from '../../remediation-deps';

export const MINUTE = 60_000;

export const diskCleanupParameters = z
  .object({
    /** Backups kept (newest first); default the inventory's backups.keepLastOnCleanup. */
    keepLast: wholeNumber('backups', 1, 1000, 3).optional(),
    /** Log lines archived per service; default the inventory's cleanup.logLines. */
    logLines: wholeNumber('log lines', 1, 10000, 10000).optional(),
  })
  .strict();
export type DiskCleanupParameters = z.infer<typeof diskCleanupParameters>;

/** The adapters disk cleanup's steps use (the inventory, the clock and the requester come with the step's context). */
export type DiskCleanupDeps = Pick<RemediationDeps, 'backups' | 'docker' | 'targetDb' | 'host'>;

export type CleanupContext = StepContext<DiskCleanupParameters>;

/** Backups kept by this run: the parameter, else the inventory's backups.keepLastOnCleanup. */
export const keepLastOf = (ctx: CleanupContext) => ctx.parameters.keepLast ?? ctx.inventory.backups.keepLastOnCleanup;

/** Log lines archived per service: the parameter, else the inventory's cleanup.logLines. */
export const logLinesOf = (ctx: CleanupContext) => ctx.parameters.logLines ?? ctx.inventory.cleanup.logLines;

/** An adapter call's options: its own timeout, and the step's signal (cancel, step timeout). */
export const call = (ctx: StepContext<unknown>, timeoutMs: number) => ({ timeoutMs, signal: ctx.signal });

/** A file's size, or null when it is not there (any more). */
export async function fileSize(path: string): Promise<number | null> {
  return stat(path).then(
    (s) => s.size,
    () => null,
  );
}

/** Runs a step's work; an error (an escalation aside) says what failed and what to do next. */
export async function explained<T>(what: string, advice: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EscalationError) throw error;
    throw new Error(`${what} failed: ${(error as Error).message}; ${advice}`);
  }
}
