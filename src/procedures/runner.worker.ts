import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { closeQueueClients } from '../common/bounded-close';
import { DomainError, ErrorCode } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { ALIVE_TTL_MS, RunnerService } from './runner.service';

export const PROCEDURES_QUEUE = 'procedures';

/**
 * Real runs execute here, in a BullMQ worker, never inside the HTTP request. Each run is one
 * job (job id = run id, so it is queued once). The periodic sweep marks runs whose worker
 * died interrupted (releasing their locks) and expires approvals nobody gave in time.
 */
@Injectable()
export class RunnerWorker implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunnerWorker.name);
  private connection?: Redis;
  private queue?: Queue;
  private worker?: Worker;
  private sweeper?: NodeJS.Timeout;
  private recheck?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runner: RunnerService,
  ) {}

  private get prefix(): string {
    return `${this.config.OPS_REDIS_PREFIX}bull`;
  }

  onModuleInit(): void {
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    const prefix = this.prefix;
    this.queue = new Queue(PROCEDURES_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.logger.warn(`procedures queue: ${error.message}`));
    this.runner.enqueue = async (runId) => {
      try {
        await this.queue!.add('run', { runId }, { jobId: runId, removeOnComplete: 1000, removeOnFail: 1000, attempts: 1 });
      } catch (error) {
        throw new DomainError(ErrorCode.DependencyUnavailable, `the run could not be queued: ${(error as Error).message}`);
      }
    };
  }

  /**
   * After every module's init, so that feature modules have registered their procedures:
   * the worker starts, and the sweep runs now, once the alive keys of a worker that died
   * just before this start have expired, then every 30 s.
   */
  onApplicationBootstrap(): void {
    this.worker = new Worker(PROCEDURES_QUEUE, (job) => this.runner.execute(String(job.data.runId)), { connection: this.connection!, prefix: this.prefix, concurrency: 4 });
    this.worker.on('error', (error) => this.logger.warn(`procedures worker: ${error.message}`));
    void this.sweep();
    this.recheck = setTimeout(() => void this.sweep(), ALIVE_TTL_MS + 1000);
    this.recheck.unref();
    this.sweeper = setInterval(() => void this.sweep(), 30_000);
    this.sweeper.unref();
  }

  private async sweep(): Promise<void> {
    const interrupted = await this.runner.sweepInterrupted().catch(() => 0);
    if (interrupted) this.logger.warn(`${interrupted} run(s) marked interrupted: their worker stopped`);
    const expired = await this.runner.sweepExpired().catch(() => 0);
    if (expired) this.logger.warn(`${expired} run(s) expired: no approval in time`);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    clearTimeout(this.recheck);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }
}
