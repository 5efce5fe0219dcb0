import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { closeQueueClients } from '../common/bounded-close';
import { dependencyFailure, describeDependencyFailure } from '../common/dependency-errors';
import { DomainError, ErrorCode } from '../common/errors';
import { throttledWarn } from '../common/throttled-log';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { ALIVE_TTL_MS, RunnerService } from './runner.service';

export const PROCEDURES_QUEUE = 'procedures';
/** A queued run whose job is still missing after this long lost it (Redis lost its keys, or the job failed before the run started). */
export const REQUEUE_AFTER_MS = 5000;
/** queue.add waits at most this long (a Redis that is not connected yet must not hold a request). */
const ENQUEUE_TIMEOUT_MS = 3000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Real runs execute here, in a BullMQ worker, never inside the HTTP request. Each run is one
 * job (job id = run id, so it is queued once). The periodic sweep marks runs whose worker
 * died interrupted (releasing their locks), queues again runs whose job was lost, and
 * expires approvals nobody gave in time.
 *
 * Two connections: the worker's waits for Redis as long as it takes (blocking commands,
 * retried for ever, so it resumes on its own after a restart); the queue's fails fast, so
 * that a request queuing a run while Redis is away gets a 503 at once instead of hanging.
 */
@Injectable()
export class RunnerWorker implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunnerWorker.name);
  private readonly warn = throttledWarn((message) => this.logger.warn(message));
  private connection?: Redis;
  private queueConnection?: Redis;
  private queue?: Queue;
  private worker?: Worker;
  private sweeper?: NodeJS.Timeout;
  private recheck?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private sweepAgain = false;

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
    this.queueConnection = new Redis(this.config.OPS_REDIS_URL, {
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 2000,
      commandTimeout: ENQUEUE_TIMEOUT_MS,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.queueConnection.on('error', () => undefined);
    // After a reconnect (Redis restarted, perhaps without its keys), look for runs whose job
    // was lost: at once, and again when the runs queued just before are old enough to tell.
    let connectedBefore = false;
    this.queueConnection.on('ready', () => {
      if (connectedBefore) {
        setTimeout(() => void this.sweep(), 1000).unref();
        setTimeout(() => void this.sweep(), REQUEUE_AFTER_MS + 1000).unref();
      }
      connectedBefore = true;
    });
    this.queue = new Queue(PROCEDURES_QUEUE, { connection: this.queueConnection, prefix: this.prefix });
    this.queue.on('error', (error) => this.warn(`procedures queue: ${error.message}`));
    this.runner.enqueue = (runId) => this.add(runId);
  }

  private async add(runId: string): Promise<void> {
    try {
      await withTimeout(
        this.queue!.add('run', { runId }, { jobId: runId, removeOnComplete: 1000, removeOnFail: 1000, attempts: 1 }),
        ENQUEUE_TIMEOUT_MS,
        'the job queue',
      );
    } catch (error) {
      const failure = dependencyFailure(error) ?? { dependency: 'redis' as const, reason: (error as Error).message };
      throw new DomainError(
        ErrorCode.DependencyUnavailable,
        `the run could not be queued: ${describeDependencyFailure({ ...failure, dependency: 'redis' })}`,
        { dependency: 'redis' },
      );
    }
  }

  /**
   * After every module's init, so that feature modules have registered their procedures:
   * the worker starts, and the sweep runs now, once the alive keys of a worker that died
   * just before this start have expired, then every 30 s.
   */
  onApplicationBootstrap(): void {
    this.worker = new Worker(PROCEDURES_QUEUE, (job) => this.runner.execute(String(job.data.runId)), {
      connection: this.connection!,
      prefix: this.prefix,
      concurrency: 4,
    });
    this.worker.on('error', (error) => this.warn(`procedures worker: ${error.message}`));
    void this.sweep();
    this.recheck = setTimeout(() => void this.sweep(), ALIVE_TTL_MS + 1000);
    this.recheck.unref();
    this.sweeper = setInterval(() => void this.sweep(), 30_000);
    this.sweeper.unref();
  }

  /** One sweep at a time; one asked for while another runs follows it (a reconnect may ask while the periodic one runs). */
  sweep(): Promise<void> {
    if (this.sweeping) {
      this.sweepAgain = true;
      return this.sweeping;
    }
    this.sweeping = (async () => {
      do {
        this.sweepAgain = false;
        await this.sweepOnce();
      } while (this.sweepAgain);
    })().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    const requeued = await this.requeueLost().catch(() => 0);
    if (requeued) this.logger.warn(`${requeued} queued run(s) had lost their job and were queued again`);
    const interrupted = await this.runner.sweepInterrupted().catch(() => 0);
    if (interrupted) this.logger.warn(`${interrupted} run(s) marked interrupted: their worker stopped`);
    const expired = await this.runner.sweepExpired().catch(() => 0);
    if (expired) this.logger.warn(`${expired} run(s) expired: no approval in time`);
  }

  /**
   * Runs the database holds as queued for a while whose job is gone (Redis restarted without
   * its keys) or ended without starting them (the database was away when the worker took it):
   * queued again under the same job id, so they run once.
   */
  async requeueLost(): Promise<number> {
    const queue = this.queue;
    if (!queue) return 0;
    let requeued = 0;
    for (const runId of await this.runner.staleQueued(REQUEUE_AFTER_MS)) {
      const state = await queue.getJobState(runId);
      if (state === 'failed' || state === 'completed') await (await queue.getJob(runId))?.remove();
      else if (state !== 'unknown') continue; // waiting, delayed, active: it will run
      await this.add(runId);
      requeued++;
    }
    return requeued;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    clearTimeout(this.recheck);
    await closeQueueClients({ worker: this.worker, connection: this.connection });
    await closeQueueClients({ queue: this.queue, connection: this.queueConnection });
  }
}
