import { Inject, Injectable } from '@nestjs/common';
import Redis from 'ioredis';
import { In, LessThanOrEqual } from 'typeorm';
import { Clock } from '../common/clock';
import { OPS_REDIS } from '../infra/redis/redis.module';
import { AuditService } from '../audit/audit.service';
import { ResourceLocks } from './resource-locks';
import { ALIVE_TTL_MS, RunExecutor } from './run-executor';
import { RunRecords } from './run-records';
import { RunEntity } from './run.entity';

/** A dry run still "running" this long after it started lost its process (dry runs live inside a request). */
const DRY_RUN_ABANDONED_MS = 15 * 60_000;

/**
 * The runner's housekeeping: approvals that expired, runs queued without a job, and runs left
 * "running" by a worker that died (each cleaned up by its procedure, its locks freed).
 */
@Injectable()
export class RunSweeper {
  constructor(
    @Inject(OPS_REDIS) private readonly redis: Redis,
    private readonly records: RunRecords,
    private readonly executor: RunExecutor,
    private readonly locks: ResourceLocks,
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  /** An awaiting run past its approval expiry: `expired`, published and audited as the system's action. */
  async expire(run: RunEntity): Promise<boolean> {
    const now = this.clock.now();
    const error = `no approval before ${run.approvalExpiresAt?.toISOString()}`;
    const updated = await this.records.runs.update(
      { id: run.id, status: 'awaiting_approval' },
      { status: 'expired', error, finishedAt: now },
    );
    if (!updated.affected) return false;
    await this.records.steps.update({ runId: run.id, status: 'pending' }, { status: 'cancelled' });
    await this.records.publish(run.id, { type: 'status', status: 'expired', error });
    await this.audit.recordSafely({
      actor: { username: 'system', role: null },
      action: 'procedure.expire',
      target: run.id,
      parameters: { procedure: run.procedureId, requestedBy: run.requestedBy, approvalExpiresAt: run.approvalExpiresAt?.toISOString() },
      outcome: 'success',
    });
    return true;
  }

  /** Runs awaiting approval past their expiry become `expired` (periodic sweep). */
  async sweepExpired(): Promise<number> {
    const due = await this.records.runs.find({
      where: { status: 'awaiting_approval', approvalExpiresAt: LessThanOrEqual(this.clock.now()) },
    });
    let expired = 0;
    for (const run of due) if (await this.expire(run)) expired++;
    return expired;
  }

  /** Ids of runs queued (or approved) more than `olderThanMs` ago that are still queued. */
  async staleQueued(olderThanMs: number): Promise<string[]> {
    const before = new Date(this.clock.now().getTime() - olderThanMs);
    const rows = await this.records.runs
      .createQueryBuilder('r')
      .select('r.id', 'id')
      .where("r.status = 'queued'")
      .andWhere('COALESCE(r.decided_at, r.created_at) < :before', { before })
      .orderBy('r.created_at', 'ASC')
      .limit(500)
      .getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /**
   * Runs left "running" by a worker that died become `interrupted` (at start and periodically).
   * A run without its alive key is looked at again after one beat of its worker: a Redis that
   * restarted without its keys shows every live run that way until the next beat, and such a
   * run must neither be marked interrupted nor lose its locks while it runs.
   */
  async sweepInterrupted(confirmAfterMs = ALIVE_TTL_MS / 3 + 1000): Promise<number> {
    // A dry run lives inside its request; one still "running" long after has lost its process.
    const abandoned = await this.records.runs.update(
      { status: 'running', dryRun: true, startedAt: LessThanOrEqual(new Date(this.clock.now().getTime() - DRY_RUN_ABANDONED_MS)) },
      { status: 'interrupted', error: 'the dry run did not record its end (its process stopped)', finishedAt: this.clock.now() },
    );
    const running = await this.records.runs.find({ where: { status: 'running', dryRun: false } });
    const suspects: RunEntity[] = [];
    for (const run of running) {
      if (this.executor.isActive(run.id)) continue; // executing in this process
      if (!(await this.redis.exists(`run-alive:${run.id}`))) suspects.push(run);
    }
    let swept = abandoned.affected ?? 0;
    if (!suspects.length) return swept;
    await new Promise((r) => setTimeout(r, confirmAfterMs));
    for (const run of suspects) {
      if (this.executor.isActive(run.id) || (await this.redis.exists(`run-alive:${run.id}`))) continue;
      if (await this.interrupt(run)) swept++;
    }
    return swept;
  }

  /** Marks a run whose worker died `interrupted`, runs its procedure's clean-up and frees its locks. */
  private async interrupt(run: RunEntity): Promise<boolean> {
    const error = `the worker stopped during ${run.currentStep ?? 'the first step'}`;
    const updated = await this.records.runs.update(
      { id: run.id, status: 'running' },
      { status: 'interrupted', error, finishedAt: this.clock.now() },
    );
    if (!updated.affected) return false;
    await this.records.steps.update({ runId: run.id, status: In(['running', 'pending']) }, { status: 'cancelled' });
    const note = await this.executor.recover(run, 'interrupted');
    if (note) await this.records.runs.update({ id: run.id }, { error: `${error}; ${note}`.slice(0, 2000) });
    await this.locks.release(this.executor.resourcesOf(run), run.id);
    await this.records.publish(run.id, { type: 'status', status: 'interrupted', error });
    return true;
  }
}
