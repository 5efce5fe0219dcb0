import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import { Counter } from 'prom-client';
import Redis from 'ioredis';
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
    await this.queue.upsertJobScheduler(
      DAILY_CHECKLIST_SCHEDULER,
      { pattern: this.inventory.schedules.dailyChecklist, tz: this.inventory.timezone },
      { name: 'checklist', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    this.worker = new Worker(HEALTH_QUEUE, (job) => this.process(job), { connection: this.connection, prefix, concurrency: 1 });
    this.worker.on('error', (error) => this.logger.warn(`health queue: ${error.message}`));
    this.logger.log(`daily checklist scheduled: "${this.inventory.schedules.dailyChecklist}" (${this.inventory.timezone})`);
  }

  private async process(job: Job): Promise<string> {
    // The tick this job serves: BullMQ's scheduled time for the job.
    const tick = new Date(job.timestamp + (job.opts.delay ?? 0));
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
    await this.worker?.close().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    await this.connection?.quit().catch(() => this.connection?.disconnect());
  }
}
