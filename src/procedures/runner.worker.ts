import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { closeWithin } from '../common/bounded-close';
import { DomainError, ErrorCode } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { RunnerService } from './runner.service';

export const PROCEDURES_QUEUE = 'procedures';

/**
 * Real runs execute here, in a BullMQ worker, never inside the HTTP request. Each run is one
 * job (job id = run id, so it is queued once); at start and every 30 s, runs whose worker
 * died are marked interrupted.
 */
@Injectable()
export class RunnerWorker implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RunnerWorker.name);
  private connection?: Redis;
  private queue?: Queue;
  private worker?: Worker;
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly runner: RunnerService,
  ) {}

  onModuleInit(): void {
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    const prefix = `${this.config.OPS_REDIS_PREFIX}bull`;
    this.queue = new Queue(PROCEDURES_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.logger.warn(`procedures queue: ${error.message}`));
    this.runner.enqueue = async (runId) => {
      try {
        await this.queue!.add('run', { runId }, { jobId: runId, removeOnComplete: 1000, removeOnFail: 1000, attempts: 1 });
      } catch (error) {
        throw new DomainError(ErrorCode.DependencyUnavailable, `the run could not be queued: ${(error as Error).message}`);
      }
    };
    this.worker = new Worker(PROCEDURES_QUEUE, (job) => this.runner.execute(String(job.data.runId)), { connection: this.connection, prefix, concurrency: 4 });
    this.worker.on('error', (error) => this.logger.warn(`procedures worker: ${error.message}`));
    const sweep = () =>
      this.runner.sweepInterrupted().then(
        (n) => n && this.logger.warn(`${n} run(s) marked interrupted: their worker stopped`),
        () => undefined,
      );
    void sweep();
    this.sweeper = setInterval(() => void sweep(), 30_000);
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    // Let a job in progress finish (a while), then drop the connections whatever Redis does.
    await closeWithin(this.worker?.close(), 5000);
    await closeWithin(this.worker?.disconnect());
    await closeWithin(this.queue?.close());
    await closeWithin(this.queue?.disconnect());
    this.connection?.disconnect();
  }
}
