import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, ErrorCode } from '../common/errors';
import { Page } from '../common/pagination';
import { Identity } from '../common/request-context';
import { maskSecrets } from '../common/secrets';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG, INVENTORY } from '../config/config.module';
import { Inventory } from '../config/inventory.schema';
import { ProcedureDefinition } from './procedure';
import { describeProcedure, parameterProblems } from './procedure-catalog';
import { ProcedureRegistry } from './procedure-registry';
import { ResourceLocks } from './resource-locks';
import { assertMayCancel, assertMayDecide, assertMayRun } from './run-access';
import { RunEventFeed, RunEvents } from './run-events';
import { ALIVE_TTL_MS, RunExecutor } from './run-executor';
import { RunRecords, RunView } from './run-records';
import { RunSweeper } from './run-sweeper';
import { FINISHED, RunEntity, RunStatus, StepEntity } from './run.entity';

export { ALIVE_TTL_MS, RunCancelledError } from './run-executor';
export type { RunView } from './run-records';

export interface RunRequest {
  parameters?: Record<string, unknown>;
  dryRun?: boolean;
  confirm?: string;
}

/**
 * The one way anything changes the ERP stack: rights (the escalation matrix), typed
 * confirmation, the two-person approval, locks, dry runs (every plan(), no run()), steps
 * with timeouts in a queue worker (RunExecutor), run and step records (RunRecords), progress
 * events, cancellation, and the sweeps (RunSweeper).
 */
@Injectable()
export class RunnerService {
  /** Hands a queued run to the job queue (set by the worker). */
  enqueue: (runId: string) => Promise<void> = async () => undefined;

  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: ProcedureRegistry,
    private readonly locks: ResourceLocks,
    private readonly clock: Clock,
    private readonly runEvents: RunEvents,
    private readonly records: RunRecords,
    private readonly executor: RunExecutor,
    private readonly sweeper: RunSweeper,
  ) {}

  async request(procedureId: string, body: RunRequest, identity: Identity): Promise<RunView> {
    const definition = this.registry.get(procedureId);
    const parsed = definition.parameters.safeParse(body.parameters ?? {});
    if (!parsed.success) throw DomainError.validation(parameterProblems(parsed.error));
    const parameters = parsed.data;
    const severity = definition.severityFor?.(parameters) ?? definition.severity;
    assertMayRun(definition, severity, identity, this.inventory);
    const dryRun = body.dryRun === true;
    if (!dryRun && definition.confirmation) {
      const expected = definition.confirmation(parameters, this.inventory);
      if (body.confirm !== expected) {
        throw DomainError.validation([
          { field: 'confirm', problem: `must equal "${expected}" (the target's name) to confirm this ${definition.severity} action` },
        ]);
      }
    }
    if (!dryRun) await this.refuseHeldResources(definition.locks(parameters, this.inventory));
    const run = this.newRun(definition, { severity, dryRun, parameters, identity });
    await this.records.dataSource.transaction(async (m) => {
      await m.insert(RunEntity, run as never);
      await m.insert(
        StepEntity,
        definition.steps.map((s, position) => ({ runId: run.id, position, stepId: s.id, title: s.title, status: 'pending' })) as never,
      );
    });
    if (dryRun) await this.executor.dryRun(definition, run, parameters);
    else if (run.status === 'queued') await this.enqueueOrFail(run.id);
    return this.get(run.id);
  }

  /** 409 when another run holds one of the resources this run would lock. */
  private async refuseHeldResources(resources: string[]): Promise<void> {
    for (const resource of resources) {
      const holder = await this.locks.holderOf(resource);
      if (holder)
        throw new DomainError(ErrorCode.Conflict, `${resource} is held by run ${holder}; wait for it to end or cancel it`, {
          resource,
          heldBy: holder,
        });
    }
  }

  private newRun(
    definition: ProcedureDefinition,
    asked: { severity: string; dryRun: boolean; parameters: unknown; identity: Identity },
  ): RunEntity {
    const { dryRun, identity } = asked;
    const now = this.clock.now();
    const awaits = !dryRun && definition.requiresApproval;
    return this.records.runs.create({
      id: randomUUID(),
      procedureId: definition.id,
      severity: asked.severity,
      dryRun,
      status: dryRun ? 'running' : awaits ? 'awaiting_approval' : 'queued',
      parameters: maskSecrets(asked.parameters as Record<string, unknown>),
      requestedBy: identity.username,
      requestedById: identity.userId,
      requestedRole: identity.role,
      approvedBy: null,
      approvedById: null,
      decidedAt: null,
      approvalExpiresAt: awaits ? new Date(now.getTime() + this.config.OPS_APPROVAL_TTL_SECONDS * 1000) : null,
      cancelRequested: false,
      currentStep: null,
      error: null,
      createdAt: now,
      startedAt: dryRun ? now : null,
      finishedAt: null,
    });
  }

  /**
   * Queues a run; when the queue cannot take it (its Redis away) the run ends `failed` saying
   * so, and the caller gets the 503: no run stays queued without a job, and none runs later
   * behind the back of a client that was told it failed.
   */
  private async enqueueOrFail(runId: string): Promise<void> {
    try {
      await this.enqueue(runId);
    } catch (error) {
      const why = `not queued: ${(error as Error).message}`.slice(0, 2000);
      await this.records.runs
        .update({ id: runId, status: 'queued' }, { status: 'failed', error: why, finishedAt: this.clock.now() })
        .catch(() => undefined);
      await this.records.steps.update({ runId, status: 'pending' }, { status: 'cancelled' }).catch(() => undefined);
      throw error;
    }
  }

  /** The worker's entry (RunExecutor.execute). */
  execute(runId: string): Promise<void> {
    return this.executor.execute(runId);
  }

  async publish(runId: string, event: Record<string, unknown>): Promise<void> {
    await this.records.publish(runId, event);
  }

  /**
   * Approve or reject a run awaiting a second person (run-access.ts says who may). Every
   * refusal is a 403 (audited as denied).
   */
  async approve(runId: string, identity: Identity, approve: boolean): Promise<RunView> {
    const run = await this.records.getRun(runId);
    assertMayDecide(run, identity, approve ? 'approve' : 'reject');
    if (run.status !== 'awaiting_approval')
      throw new DomainError(ErrorCode.Conflict, `run ${runId} is ${run.status}, not awaiting approval`, { status: run.status });
    if (run.approvalExpiresAt && run.approvalExpiresAt <= this.clock.now()) {
      await this.sweeper.expire(run);
      throw new DomainError(
        ErrorCode.Conflict,
        `the approval of run ${runId} expired at ${run.approvalExpiresAt.toISOString()}; request it again`,
      );
    }
    if (approve) await this.approved(run, identity);
    else await this.rejected(run, identity);
    return this.get(run.id);
  }

  private async rejected(run: RunEntity, identity: Identity): Promise<void> {
    const now = this.clock.now();
    const updated = await this.records.runs.update(
      { id: run.id, status: 'awaiting_approval' },
      {
        status: 'rejected',
        approvedBy: identity.username,
        approvedById: identity.userId,
        decidedAt: now,
        finishedAt: now,
        error: `rejected by ${identity.username}`,
      },
    );
    if (!updated.affected) return;
    await this.records.steps.update({ runId: run.id, status: 'pending' }, { status: 'cancelled' });
    await this.records.publish(run.id, { type: 'status', status: 'rejected' });
  }

  private async approved(run: RunEntity, identity: Identity): Promise<void> {
    const updated = await this.records.runs.update(
      { id: run.id, status: 'awaiting_approval' },
      { status: 'queued', approvedBy: identity.username, approvedById: identity.userId, decidedAt: this.clock.now() },
    );
    if (!updated.affected) return;
    try {
      await this.enqueue(run.id);
    } catch (error) {
      // Not queued: it awaits approval again (the approver is told with the 503).
      await this.records.runs
        .update({ id: run.id, status: 'queued' }, { status: 'awaiting_approval', approvedBy: null, approvedById: null, decidedAt: null })
        .catch(() => undefined);
      throw error;
    }
  }

  /** The domain of a run's procedure (database when the procedure is no longer registered: the stricter guess for data). */
  private domainOf(run: RunEntity): 'system' | 'database' {
    try {
      return this.registry.get(run.procedureId).domain;
    } catch {
      return 'database';
    }
  }

  /**
   * A running run: its current step's signal is aborted (whichever replica executes it),
   * the rest is cancelled. A run not started yet is cancelled at once.
   */
  async cancel(runId: string, identity: Identity): Promise<RunView> {
    const run = await this.records.getRun(runId);
    assertMayCancel(run, this.domainOf(run), identity, this.inventory);
    if (FINISHED.includes(run.status))
      throw new DomainError(ErrorCode.Conflict, `run ${runId} already ended (${run.status})`, { status: run.status });
    if (run.status === 'running') {
      await this.records.runs.update({ id: run.id }, { cancelRequested: true });
      await this.executor.requestCancel(run.id);
    } else {
      const now = this.clock.now();
      const updated = await this.records.runs.update(
        { id: run.id, status: run.status },
        { status: 'cancelled', cancelRequested: true, finishedAt: now },
      );
      if (!updated.affected) return this.cancel(runId, identity); // it started (or ended) meanwhile
      await this.records.steps.update({ runId: run.id, status: 'pending' }, { status: 'cancelled' });
      await this.records.publish(run.id, { type: 'status', status: 'cancelled', error: null });
    }
    return this.get(run.id);
  }

  /** Runs awaiting approval past their expiry become `expired` (periodic sweep). */
  sweepExpired(): Promise<number> {
    return this.sweeper.sweepExpired();
  }

  /** Ids of runs queued (or approved) more than `olderThanMs` ago that are still queued. */
  staleQueued(olderThanMs: number): Promise<string[]> {
    return this.sweeper.staleQueued(olderThanMs);
  }

  /** Runs left "running" by a worker that died become `interrupted` (RunSweeper.sweepInterrupted). */
  sweepInterrupted(confirmAfterMs = ALIVE_TTL_MS / 3 + 1000): Promise<number> {
    return this.sweeper.sweepInterrupted(confirmAfterMs);
  }

  /** The run's event feed: a snapshot, then every event until it ends (404 for an unknown run). */
  events(runId: string): Promise<RunEventFeed> {
    return this.runEvents.open(runId, () => this.get(runId));
  }

  get(id: string): Promise<RunView> {
    return this.records.get(id);
  }

  list(filter: { status?: RunStatus; procedureId?: string; limit?: number; cursor?: string }): Promise<Page<RunEntity>> {
    return this.records.list(filter);
  }

  describe(definition: ProcedureDefinition) {
    return describeProcedure(definition);
  }
}
