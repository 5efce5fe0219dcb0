import { Inject, Injectable } from '@nestjs/common';
import { ScheduledJobs } from '../../common/scheduled-jobs';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { WeeklyReportService } from './weekly-report.service';

export const REPORTS_QUEUE = 'reports';
export const WEEKLY_REPORT_SCHEDULER = 'weekly-report';

/**
 * The weekly report (inventory schedules.weeklyReport, Friday 17:00 in its time zone), once
 * per tick across replicas. The job generates the report once (its id kept in the job's data)
 * and mails it; a failed mail fails the job, which the queue retries (3 attempts, backoff)
 * without generating the report again. Every attempt is recorded.
 */
@Injectable()
export class WeeklyReportScheduler extends ScheduledJobs {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    weekly: WeeklyReportService,
    metrics: MetricsService,
  ) {
    super({
      config,
      timeZone: inventory.timezone,
      what: 'weekly report',
      metric: 'weekly_report',
      registry: metrics.registry,
      lockDuration: 120_000,
      jobs: [
        {
          id: WEEKLY_REPORT_SCHEDULER,
          queue: REPORTS_QUEUE,
          pattern: inventory.schedules.weeklyReport,
          name: 'weekly-report',
          opts: { attempts: 3, backoff: { type: 'exponential', delay: config.OPS_REPORT_RETRY_DELAY_MS } },
          run: async ({ identity, job }) => {
            let reportId = (job.data as { reportId?: string }).reportId;
            if (!reportId) {
              reportId = String((await weekly.generateWeekly(identity)).id);
              await job.updateData({ ...(job.data as object), reportId });
            }
            const row = await weekly.sendOrThrow(reportId, job.attemptsMade + 1);
            return `report ${reportId} mailed (${row.subject})`;
          },
        },
      ],
    });
  }
}
