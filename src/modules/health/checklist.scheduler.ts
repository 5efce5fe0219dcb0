import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import { Counter } from 'prom-client';
import Redis from 'ioredis';
import { closeQueueClients } from '../../common/bounded-close';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { MetricsService } from '../system/metrics.service';
import { ChecklistService } from './checklist.service';

export const HEALTH_QUEUE = 'health';
export const DAILY_CHECKLIST_SCHEDULER = 'daily-checklist';

/**
 * Schedules the daily checklist through the job queue (BullMQ, in the control plane's
 * Redis): the cron expression and time zone come from the inventory; every replica
 * registers the same job scheduler and runs a worker, and each tick makes one job that
 * one worker takes, so the checklist runs once whatever the number of replicas. The
 * run records the tick it served (unique in the database as a second guard).
 */
@Injectable()
export class ChecklistScheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ChecklistScheduler.name);
  private queue?: Queue;
  private worker?: Worker;
  private connection?: Redis;
  private retry?: NodeJS.Timeout;
  private closing = false;
  private readonly processed: Counter<'outcome'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly checklist: ChecklistService,
    metrics: MetricsService,
  ) {
    this.processed = new Counter({
      name: 'ops_scheduled_checklist_jobs_total',
      help: 'Scheduled checklist jobs this replica took: ran, or duplicate (refused by the database: a tick already run)',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
  }

  async onModuleInit(): Promise<void> {
    if (!this.config.OPS_SCHEDULER) return;
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
    this.connection.on('error', () => undefined);
    const prefix = `${this.config.OPS_REDIS_PREFIX}bull`;
    this.queue = new Queue(HEALTH_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.logger.warn(`health queue: ${error.message}`));
    this.worker = new Worker(HEALTH_QUEUE, (job) => this.process(job), { connection: this.connection, prefix, concurrency: 1 });
    this.worker.on('error', (error) => this.logger.warn(`health queue: ${error.message}`));
    // Registered in the background: a Redis that is down at start must not hold the start-up
    // (readiness reports it); the registration is retried until it succeeds.
    void this.register();
  }

  private async register(attempt = 1): Promise<void> {
    if (!this.queue || this.closing) return;
    try {
      await this.queue.upsertJobScheduler(
        DAILY_CHECKLIST_SCHEDULER,
        { pattern: this.inventory.schedules.dailyChecklist, tz: this.inventory.timezone },
        { name: 'checklist', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
      );
      this.logger.log(`daily checklist scheduled: "${this.inventory.schedules.dailyChecklist}" (${this.inventory.timezone})`);
    } catch (error) {
      this.logger.warn(`daily checklist not scheduled yet (attempt ${attempt}): ${(error as Error).message}`);
      this.retry = setTimeout(() => void this.register(attempt + 1), Math.min(30_000, 1000 * attempt));
      this.retry.unref();
    }
  }

  private async process(job: Job): Promise<string> {
    // The tick this job serves: a scheduler's job id ends with the tick's exact time
    // (repeat:<scheduler>:<millis>); timestamp + delay only approximates it (by a few 100 ms).
    const exact = /:(\d{12,})$/.exec(String(job.id ?? ''));
    const tick = new Date(exact ? Number(exact[1]) : job.timestamp + (job.opts.delay ?? 0));
    try {
      const run = await this.checklist.run('schedule', 'scheduler', tick);
      this.processed.inc({ outcome: 'ran' });
      return run.id;
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        this.processed.inc({ outcome: 'duplicate' });
        return 'already run for this tick';
      }
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retry);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }
}
