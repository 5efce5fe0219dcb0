import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { In } from 'typeorm';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG, INVENTORY } from '../config/config.module';
import { Inventory } from '../config/inventory.schema';
import { OPS_REDIS } from '../infra/redis/redis.module';
import { escalationOf, escalationText } from '../config/escalation';
import { EarlierStep, earlierSteps, EscalationError, ProcedureDefinition, StepContext, StepDefinition, StepOutput } from './procedure';
import { ProcedureRegistry } from './procedure-registry';
import { ResourceLocks } from './resource-locks';
import { RunEvents } from './run-events';
import { bounded, RunEnding, RunRecords } from './run-records';
import { RunEntity } from './run.entity';

/** A worker refreshes its runs' alive keys every third of this; a run without one was left by a dead worker. */
export const ALIVE_TTL_MS = 15_000;

/** The reason a cancelled run's steps see on ctx.signal. */
export class RunCancelledError extends Error {
  constructor() {
    super('the run was cancelled');
    this.name = 'AbortError';
  }
}

/** Rejects after `ms` and then aborts `onTimeout` (the step's own signal). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => {
          const error = new Error(`${what} timed out after ${ms} ms`);
          reject(error);
          onTimeout?.abort(error);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One step's attempt in a real run: its place, the run's abort controller, the steps before it. */
interface StepAttempt {
  run: RunEntity;
  definition: ProcedureDefinition;
  step: StepDefinition<unknown>;
  position: number;
  parameters: unknown;
  controller: AbortController;
  done: EarlierStep[];
}

/**
 * Executes runs: dry runs (every plan(), no run()) inside the request, real runs in the
 * queue worker (locks, a heartbeat, steps in order with timeouts, records, cancellation).
 */
@Injectable()
export class RunExecutor implements OnModuleInit {
  private readonly logger = new Logger(RunExecutor.name);
  /** Runs executing in this process, to abort their current step on cancel. */
  private readonly active = new Map<string, AbortController>();

  constructor(
    @Inject(OPS_REDIS) private readonly redis: Redis,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ProcedureRegistry,
    private readonly locks: ResourceLocks,
    private readonly clock: Clock,
    private readonly runEvents: RunEvents,
    private readonly records: RunRecords,
  ) {}

  /** Every replica hears every cancel: the one executing the run aborts its step. */
  private get cancelChannel(): string {
    return `${this.config.OPS_REDIS_PREFIX}run-cancel`;
  }

  onModuleInit(): void {
    this.runEvents
      .listen(this.cancelChannel, (runId) => this.abortLocal(runId))
      .catch((error: Error) => this.logger.warn(`cancel channel: ${error.message}`));
  }

  private abortLocal(runId: string): void {
    const controller = this.active.get(runId);
    if (controller && !controller.signal.aborted) controller.abort(new RunCancelledError());
  }

  /** Asks whichever replica executes the run to abort its current step. */
  async requestCancel(runId: string): Promise<void> {
    await this.redis.publish(this.cancelChannel, runId).catch(() => undefined);
  }

  /** Whether the run executes in this process. */
  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  private context(run: RunEntity, parameters: unknown, signal: AbortSignal, done: readonly EarlierStep[]): StepContext<any> {
    const logger = this.logger;
    const where = `run ${run.id} (${run.procedureId})`;
    return {
      runId: run.id,
      parameters,
      inventory: this.inventory,
      signal,
      requester: { username: run.requestedBy, userId: run.requestedById, role: run.requestedRole },
      ...earlierSteps(done),
      log: { info: (message) => logger.log(`${where}: ${message}`), warn: (message) => logger.warn(`${where}: ${message}`) },
      now: () => this.clock.now(),
      progress: (update) => void this.records.publish(run.id, { type: 'progress', step: run.currentStep, ...update }),
    };
  }

  /** Every plan(), no run(): exactly what a real run would touch. */
  async dryRun(definition: ProcedureDefinition, run: RunEntity, parameters: unknown): Promise<void> {
    const controller = new AbortController();
    let failure: string | null = null;
    let outcome: RunEnding | undefined;
    try {
      for (const [position, step] of definition.steps.entries()) {
        let plan: StepOutput;
        try {
          plan = await withTimeout(step.plan(this.context(run, parameters, controller.signal, [])), step.timeoutMs, `${step.id} plan`);
        } catch (error) {
          failure = `${step.id}: ${(error as Error).message}`;
          await this.records.steps.update(
            { runId: run.id, position },
            { status: 'failed', error: (error as Error).message.slice(0, 2000) },
          );
          break;
        }
        await this.records.steps.update({ runId: run.id, position }, { status: 'planned', plan: bounded(plan) });
      }
      outcome = { status: failure ? 'failed' : 'succeeded', error: failure };
      await this.records.runs.update({ id: run.id }, { ...outcome, finishedAt: this.clock.now() });
    } catch (error) {
      // Its record could not be written (the database went away): the run must not stay
      // "running"; its end is written as soon as the database answers again.
      const stopped = `the dry run stopped: its record could not be written (${(error as Error).message})`.slice(0, 2000);
      this.records.endLater(run.id, outcome ?? { status: 'failed', error: stopped });
      throw error;
    }
  }

  /** The worker's entry: locks, steps in order, records; never leaves a run "running". */
  async execute(runId: string): Promise<void> {
    const run = await this.records.runs.findOne({ where: { id: runId } });
    if (!run || run.status !== 'queued') return;
    const definition = this.registry.get(run.procedureId);
    const parsed = definition.parameters.safeParse(run.parameters);
    if (!parsed.success) return this.records.finish(run.id, { status: 'failed', error: 'stored parameters no longer validate' });
    let lease;
    try {
      lease = await this.locks.acquire(definition.locks(parsed.data, this.inventory), run.id);
    } catch (error) {
      return this.records.finish(run.id, { status: 'failed', error: (error as Error).message });
    }
    const controller = new AbortController();
    this.active.set(run.id, controller);
    const stopHeartbeat = await this.heartbeat(run.id);
    // How the run ends; recorded only after its locks are free (finally), so that a run shown
    // as ended never holds a resource (a client seeing "succeeded" may at once ask for another).
    let ending: RunEnding | undefined;
    try {
      ending = await this.runSteps(run, definition, parsed.data, controller);
    } finally {
      stopHeartbeat();
      this.active.delete(run.id);
      try {
        definition.onEnd?.(run.id);
      } catch (error) {
        this.logger.warn(`ending run ${run.id}: ${(error as Error).message}`);
      }
      controller.abort();
      await this.redis.del(`run-alive:${run.id}`).catch(() => undefined);
      await lease.release().catch(() => undefined);
      if (ending) await this.records.finish(run.id, ending);
    }
  }

  /**
   * The alive key tells the sweep this run's worker lives; the same beat re-reads the cancel
   * flag, in case the cancel message was missed. Returns the function that stops it.
   */
  private async heartbeat(runId: string): Promise<() => void> {
    const beat = async () => {
      await this.redis.set(`run-alive:${runId}`, '1', 'PX', ALIVE_TTL_MS).catch(() => undefined);
      const row = await this.records.runs.findOne({ where: { id: runId }, select: { id: true, cancelRequested: true } }).catch(() => null);
      if (row?.cancelRequested) this.abortLocal(runId);
    };
    const alive = setInterval(() => void beat(), ALIVE_TTL_MS / 3);
    alive.unref();
    await this.redis.set(`run-alive:${runId}`, '1', 'PX', ALIVE_TTL_MS).catch(() => undefined);
    return () => clearInterval(alive);
  }

  /** The steps in order; undefined when the run was no longer queued (cancelled meanwhile). */
  private async runSteps(
    run: RunEntity,
    definition: ProcedureDefinition,
    parameters: unknown,
    controller: AbortController,
  ): Promise<RunEnding | undefined> {
    // Only a run still queued starts (it may have been cancelled meanwhile).
    const started = await this.records.runs.update({ id: run.id, status: 'queued' }, { status: 'running', startedAt: this.clock.now() });
    if (!started.affected) return undefined;
    await this.records.publish(run.id, { type: 'status', status: 'running' });
    const done: EarlierStep[] = [];
    for (const [position, step] of definition.steps.entries()) {
      const current = await this.records.runs.findOne({ where: { id: run.id } });
      if (current?.cancelRequested || controller.signal.aborted) {
        await this.records.steps.update({ runId: run.id, position: In(positionsFrom(definition, position)) }, { status: 'cancelled' });
        const note = position > 0 ? await this.recover(run, 'cancelled') : null;
        return { status: 'cancelled', error: note };
      }
      const ending = await this.runStep({ run, definition, step, position, parameters, controller, done });
      if (ending) return ending;
    }
    return { status: 'succeeded', error: null };
  }

  /** One step: plan, run, verify, recorded; returns the run's ending when the step ends it. */
  private async runStep(attempt: StepAttempt): Promise<RunEnding | null> {
    const { run, step, position } = attempt;
    run.currentStep = step.id;
    await this.records.runs.update({ id: run.id }, { currentStep: step.id });
    await this.records.steps.update({ runId: run.id, position }, { status: 'running', startedAt: this.clock.now() });
    await this.records.publish(run.id, { type: 'step', step: step.id, status: 'running' });
    // The step's signal aborts on cancel (any replica) and on its own timeout.
    const stepTimeout = new AbortController();
    const ctx = this.context(run, attempt.parameters, AbortSignal.any([attempt.controller.signal, stepTimeout.signal]), attempt.done);
    const startedAt = this.clock.now();
    try {
      const plan = await withTimeout(step.plan(ctx), step.timeoutMs, `${step.id} plan`, stepTimeout);
      let output = await withTimeout(step.run(ctx), step.timeoutMs, step.id, stepTimeout);
      if (step.verify)
        output = { ...output, verified: await withTimeout(step.verify(ctx, output), step.timeoutMs, `${step.id} verify`, stepTimeout) };
      await this.records.steps.update(
        { runId: run.id, position },
        { status: 'succeeded', plan: bounded(plan), output: bounded(output), finishedAt: this.clock.now() },
      );
      await this.records.publish(run.id, { type: 'step', step: step.id, status: 'succeeded' });
      attempt.done.push({ id: step.id, title: step.title, startedAt, finishedAt: this.clock.now(), output });
      return null;
    } catch (error) {
      return this.stepFailed(attempt, error, stepTimeout);
    }
  }

  /** A step threw: the run ends cancelled (its signal), escalated (EscalationError) or failed. */
  private async stepFailed(attempt: StepAttempt, error: unknown, stepTimeout: AbortController): Promise<RunEnding> {
    const { run, step, position, definition } = attempt;
    const message = String((error as Error)?.message ?? error).slice(0, 2000);
    const here = { runId: run.id, position };
    const later = { runId: run.id, position: In(positionsFrom(definition, position + 1)) };
    if (attempt.controller.signal.aborted) {
      // Cancelled: the step stopped on its signal, or ignored it until its timeout.
      const why = stepTimeout.signal.aborted ? `cancelled; the step did not stop on its signal: ${message}` : 'cancelled while running';
      await this.records.steps.update(here, { status: 'cancelled', error: why, finishedAt: this.clock.now() });
      await this.records.publish(run.id, { type: 'step', step: step.id, status: 'cancelled' });
      await this.records.steps.update(later, { status: 'cancelled' });
      const note = await this.recover(run, 'cancelled');
      return { status: 'cancelled', error: `cancelled during ${step.id}${note ? `; ${note}` : ''}` };
    }
    let output: StepOutput | undefined;
    let ending: RunEnding = { status: 'failed', error: `${step.id}: ${message}` };
    if (error instanceof EscalationError) {
      // The procedure could not fix it: whom to call, and what to hand them.
      const level = escalationOf(this.inventory, error.level, error.situation ?? definition.situation);
      output = {
        ...error.details,
        escalateTo: level.contacts,
        level: error.level,
        ...(level.situation ? { situation: level.situation } : {}),
      };
      const why = `${message}; escalate to ${escalationText(level)}`;
      ending = { status: 'escalated', error: why.slice(0, 2000) };
    }
    await this.records.steps.update(here, {
      status: 'failed',
      error: message,
      ...(output ? { output: bounded(output) } : {}),
      finishedAt: this.clock.now(),
    });
    await this.records.publish(run.id, { type: 'step', step: step.id, status: 'failed', error: message });
    await this.records.steps.update(later, { status: 'skipped' });
    return ending;
  }

  /** The procedure's own clean-up for a run left half done (e.g. start a stopped backend); returns its note. */
  async recover(run: RunEntity, why: 'interrupted' | 'cancelled'): Promise<string | null> {
    try {
      const definition = this.registry.get(run.procedureId);
      const parsed = definition.parameters.safeParse(run.parameters);
      if (!definition.onInterrupted || !parsed.success) return null;
      return await definition.onInterrupted(parsed.data, run.currentStep, this.inventory);
    } catch (error) {
      this.logger.warn(`cleaning up ${why} run ${run.id}: ${(error as Error).message}`);
      return `clean-up failed: ${(error as Error).message}`;
    }
  }

  /** The resources a stored run locks (none when its procedure or parameters are gone). */
  resourcesOf(run: RunEntity): string[] {
    try {
      const definition = this.registry.get(run.procedureId);
      const parsed = definition.parameters.safeParse(run.parameters);
      return parsed.success ? definition.locks(parsed.data, this.inventory) : [];
    } catch {
      return [];
    }
  }
}

/** The positions of a procedure's steps from `first` on. */
function positionsFrom(definition: ProcedureDefinition, first: number): number[] {
  return definition.steps.map((_, i) => i).filter((i) => i >= first);
}
