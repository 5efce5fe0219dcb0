import { z } from 'zod';
import { Inventory, Severity } from '../config/inventory.schema';
import { Domain } from '../common/rights';

/** What a step hands back: small JSON (bounded when stored). */
export type StepOutput = Record<string, unknown>;

/** Who asked for the run (the person, even when they used an API token). */
export interface Requester {
  /** The person's username (`scheduler` for runs the control plane starts itself). */
  username: string;
  /** The person's id; null for the scheduler. */
  userId: string | null;
  /** The role they asked with. */
  role: string;
}

/** A step of this run that has already ended, as the steps after it see it. */
export interface EarlierStep {
  id: string;
  title: string;
  startedAt: Date;
  finishedAt: Date;
  output: StepOutput;
}

/** Where a step writes what is worth a log line (the run id is added). */
export interface StepLogger {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * Everything a step may use besides its procedure's adapters: the run, its parameters, who
 * asked, what earlier steps returned, a logger and the clock. A step never reads the runner's
 * tables; unit tests build one with `stepContext()` (test/helpers/step-context.ts).
 */
export interface StepContext<P> {
  runId: string;
  parameters: P;
  inventory: Inventory;
  signal: AbortSignal;
  requester: Requester;
  /** The steps of this run that ended before this one, in order (empty in a dry run). */
  earlier: readonly EarlierStep[];
  /** An earlier step's output, or `{}` when that step has not run (dry run, or not reached). */
  outputOf(stepId: string): StepOutput;
  log: StepLogger;
  /** The time, injectable in tests. */
  now(): Date;
  /** Reports progress (bytes, rows, percent); published to the run's event stream. */
  progress(update: Record<string, unknown>): void;
}

/** Builds the `earlier`/`outputOf` part of a context from the steps that ended. */
export function earlierSteps(steps: readonly EarlierStep[]): Pick<StepContext<unknown>, 'earlier' | 'outputOf'> {
  return { earlier: steps, outputOf: (id) => steps.find((s) => s.id === id)?.output ?? {} };
}

/** One unit of a procedure: plan() says exactly what it would touch; run() does it. */
export interface StepDefinition<P> {
  id: string;
  title: string;
  timeoutMs: number;
  plan(ctx: StepContext<P>): Promise<StepOutput>;
  run(ctx: StepContext<P>): Promise<StepOutput>;
  /** Optional check after run() (the runbook's "Verify" steps). */
  verify?(ctx: StepContext<P>, output: StepOutput): Promise<StepOutput>;
}

/**
 * Thrown by a step that cannot fix the problem: the run ends `escalated` (not `failed`),
 * its error names whom to call (the inventory's contacts of `level`), and `details` (what to
 * hand them, e.g. the last log lines) become the step's output.
 */
export class EscalationError extends Error {
  constructor(
    message: string,
    readonly details: StepOutput,
    readonly level: Severity = 'P1',
    /** The escalation table's row at `level` (its id), when the problem is one of its situations. */
    readonly situation?: string,
  ) {
    super(message);
    this.name = 'EscalationError';
  }
}

/** A runbook procedure that changes the stack. */
export interface ProcedureDefinition<P = any> {
  id: string;
  title: string;
  severity: Severity;
  /**
   * The level a run with these parameters needs when it is higher than `severity` (e.g. a
   * silence longer than 30 min is P2; the optional restart of a P3 diagnosis is P2).
   */
  severityFor?(parameters: P): Severity;
  /**
   * The runbook situation this procedure answers: the id of a row of the inventory's
   * escalation table at its level (e.g. system-down). Refusals and escalations name that
   * row's contacts; without it (or at a level without that row) the level's.
   */
  situation?: string;
  domain: Domain;
  /** Validated parameters (unknown keys refused). */
  parameters: z.ZodType<P>;
  /** Named resources the run holds while it runs, e.g. `erp:postgres`. */
  locks(parameters: P, inventory: Inventory): string[];
  /** P1 actions that put data at risk: a second person of the complementary role approves. */
  requiresApproval: boolean;
  /** The value a real run's `confirm` must equal (e.g. the target database's name). */
  confirmation?(parameters: P, inventory: Inventory): string;
  steps: StepDefinition<P>[];
  /**
   * Called when a run stops half way: by the sweep when its worker died during `lastStep`
   * (the process was killed), and by the runner when it was cancelled after `lastStep`
   * started. Undo what must not stay half done (start a stopped backend, unpause it).
   * Returns a note for the run's error.
   */
  onInterrupted?(parameters: P, lastStep: string | null, inventory: Inventory): Promise<string | null>;
  /** Called once when a real run ends, however it ends (drop per-run state kept in memory). */
  onEnd?(runId: string): void;
}

/** Declares a procedure (typed parameters, steps as top-level functions). */
export function defineProcedure<P>(definition: ProcedureDefinition<P>): ProcedureDefinition<P> {
  return definition;
}

/** Declares one step (a named, top-level object a unit test can call with a `StepContext`). */
export function defineStep<P>(step: StepDefinition<P>): StepDefinition<P> {
  return step;
}
