import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import Redis from 'ioredis';
import { DataSource, In } from 'typeorm';
import { Clock } from '../common/clock';
import { DomainError } from '../common/errors';
import { decodeCursor, encodeCursor, Page, pageSize } from '../common/pagination';
import { maskSecrets } from '../common/secrets';
import { OPS_REDIS } from '../infra/redis/redis.module';
import { StepOutput } from './procedure';
import { RunEntity, RunStatus, StepEntity } from './run.entity';

const MAX_OUTPUT_BYTES = 65_536;

export interface RunView extends RunEntity {
  steps: StepEntity[];
}

/** How a run ends: its status and the error shown with it. */
export interface RunEnding {
  status: RunStatus;
  error: string | null;
}

/** A step's plan or output as stored: secrets masked, at most 64 KiB (else a preview). */
export function bounded(output: StepOutput): never {
  const masked = maskSecrets(output);
  const json = JSON.stringify(masked) ?? '{}';
  return (json.length > MAX_OUTPUT_BYTES ? { truncated: true, preview: json.slice(0, 2048) } : JSON.parse(json)) as never;
}

/**
 * The runs' and steps' records and the run events: what the runner, its executor and its
 * sweeps share (reading, paging, ending a run, publishing its events).
 */
@Injectable()
export class RunRecords {
  private readonly logger = new Logger(RunRecords.name);

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    @Inject(OPS_REDIS) private readonly redis: Redis,
    private readonly clock: Clock,
  ) {}

  get runs() {
    return this.dataSource.getRepository(RunEntity);
  }

  get steps() {
    return this.dataSource.getRepository(StepEntity);
  }

  async publish(runId: string, event: Record<string, unknown>): Promise<void> {
    await this.redis
      .publish(`run-events:${runId}`, JSON.stringify({ runId, at: this.clock.now().toISOString(), ...event }))
      .catch(() => undefined);
  }

  /** Records a run's end and publishes it; when the database is away, writes it later (endLater). */
  async finish(runId: string, { status, error }: RunEnding): Promise<void> {
    try {
      await this.runs.update({ id: runId }, { status, error, finishedAt: this.clock.now() });
    } catch (failure) {
      // The database went away as the run ended: its real end is written once it is back.
      this.endLater(runId, { status, error });
      throw failure;
    }
    await this.publish(runId, { type: 'status', status, error });
  }

  /**
   * Writes a run's end in the background, again and again until the database takes it (for
   * up to 10 minutes), unless the run ended otherwise meanwhile (e.g. the sweep found it).
   */
  endLater(runId: string, end: RunEnding): void {
    const finishedAt = this.clock.now();
    const until = Date.now() + 600_000;
    let delay = 500;
    const attempt = () => {
      this.dataSource
        .transaction(async (m) => {
          const updated = await m.update(RunEntity, { id: runId, status: 'running' }, { ...end, finishedAt });
          if (updated.affected) await m.update(StepEntity, { runId, status: In(['pending', 'running']) }, { status: 'cancelled' });
          return updated.affected;
        })
        .then(
          (affected) => (affected ? this.publish(runId, { type: 'status', ...end }) : undefined),
          (error: Error) => {
            if (Date.now() > until)
              return this.logger.warn(`run ${runId} still shows running: its end (${end.status}) could not be written: ${error.message}`);
            delay = Math.min(delay * 2, 10_000);
            setTimeout(attempt, delay).unref();
          },
        );
    };
    setTimeout(attempt, delay).unref();
  }

  async getRun(id: string): Promise<RunEntity> {
    const run = await this.runs.findOne({ where: { id } });
    if (!run) throw DomainError.notFound('run', id);
    return run;
  }

  async get(id: string): Promise<RunView> {
    const run = await this.getRun(id);
    const steps = await this.steps.find({ where: { runId: id }, order: { position: 'ASC' } });
    return { ...run, steps };
  }

  async list(filter: { status?: RunStatus; procedureId?: string; limit?: number; cursor?: string }): Promise<Page<RunEntity>> {
    const size = pageSize(filter.limit);
    const qb = this.runs
      .createQueryBuilder('r')
      .orderBy('r.createdAt', 'DESC')
      .addOrderBy('r.id', 'DESC')
      .take(size + 1);
    if (filter.status) qb.andWhere('r.status = :status', { status: filter.status });
    if (filter.procedureId) qb.andWhere('r.procedure_id = :procedureId', { procedureId: filter.procedureId });
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(r.created_at, r.id) < (:at, :id)', { at: new Date(after[0]), id: after[1] });
    const rows = await qb.getMany();
    const items = rows.slice(0, size);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > size ? encodeCursor([last.createdAt.toISOString(), last.id]) : null };
  }
}
