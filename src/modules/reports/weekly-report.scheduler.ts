import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { closeQueueClients } from '../../common/bounded-close';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { SCHEDULER_IDENTITY } from '../backups/backup.scheduler';
import { WeeklyReportService } from './weekly-report.service';

export const REPORTS_QUEUE = 'reports';
export const WEEKLY_REPORT_SCHEDULER = 'weekly-report';

/**
 * The weekly report (inventory schedules.weeklyReport, Friday 17:00 in its time zone) as a
 * BullMQ job scheduler: once per tick across replicas. The job generates the report once
 * (its id kept in the job's data) and mails it; a failed mail fails the job, which the queue
 * retries (3 attempts, backoff) without generating the report again. Every attempt is recorded.
 */
@Injectable()
export class WeeklyReportScheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(WeeklyReportScheduler.name);
  private queue?: Queue;
  private worker?: Worker;
  private connection?: Redis;
  private retry?: NodeJS.Timeout;
  private closing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly weekly: WeeklyReportService,
  ) {}

  onModuleInit(): void {
    if (!this.config.OPS_SCHEDULER) return;
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    const prefix = `${this.config.OPS_REDIS_PREFIX}bull`;
    this.queue = new Queue(REPORTS_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.logger.warn(`reports queue: ${error.message}`));
    this.worker = new Worker(REPORTS_QUEUE, (job) => this.process(job), { connection: this.connection, prefix, concurrency: 1, lockDuration: 120_000 });
    this.worker.on('error', (error) => this.logger.warn(`reports queue: ${error.message}`));
    void this.register();
  }

  private async register(attempt = 1): Promise<void> {
    if (!this.queue || this.closing) return;
    try {
      await this.queue.upsertJobScheduler(
        WEEKLY_REPORT_SCHEDULER,
        { pattern: this.inventory.schedules.weeklyReport, tz: this.inventory.timezone },
        { name: 'weekly-report', data: {}, opts: { attempts: 3, backoff: { type: 'exponential', delay: this.config.OPS_REPORT_RETRY_DELAY_MS }, removeOnComplete: 100, removeOnFail: 100 } },
      );
      this.logger.log(`weekly report scheduled: "${this.inventory.schedules.weeklyReport}" (${this.inventory.timezone})`);
    } catch (error) {
      this.logger.warn(`weekly report not scheduled yet (attempt ${attempt}): ${(error as Error).message}`);
      this.retry = setTimeout(() => void this.register(attempt + 1), Math.min(30_000, 1000 * attempt));
      this.retry.unref();
    }
  }

  async process(job: Job): Promise<string> {
    if (job.name !== 'weekly-report') return `unknown job ${job.name}`;
    let reportId = (job.data as { reportId?: string }).reportId;
    if (!reportId) {
      const report = await this.weekly.generateWeekly(SCHEDULER_IDENTITY);
      reportId = String(report.id);
      await job.updateData({ ...(job.data as object), reportId });
    }
    const row = await this.weekly.sendOrThrow(reportId, job.attemptsMade + 1);
    return `report ${reportId} mailed (${row.subject})`;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retry);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }
}
