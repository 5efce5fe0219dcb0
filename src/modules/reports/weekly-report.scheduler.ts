import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job } from 'bullmq';
import { ScheduledQueue } from '../../common/scheduled-queue';
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
  private readonly scheduled: ScheduledQueue;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    private readonly weekly: WeeklyReportService,
  ) {
    this.scheduled = new ScheduledQueue({
      config,
      queue: REPORTS_QUEUE,
      timeZone: inventory.timezone,
      schedules: [
        {
          id: WEEKLY_REPORT_SCHEDULER,
          pattern: inventory.schedules.weeklyReport,
          jobName: 'weekly-report',
          opts: { attempts: 3, backoff: { type: 'exponential', delay: config.OPS_REPORT_RETRY_DELAY_MS } },
        },
      ],
      process: (job) => this.process(job),
      logger: new Logger(WeeklyReportScheduler.name),
      what: 'weekly report',
      lockDuration: 120_000,
    });
  }

  onModuleInit(): void {
    this.scheduled.start();
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

  onApplicationShutdown(): Promise<void> {
    return this.scheduled.close();
  }
}
