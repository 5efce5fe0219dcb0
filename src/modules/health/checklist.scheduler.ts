import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job } from 'bullmq';
import { Counter } from 'prom-client';
import { ScheduledQueue, tickOf } from '../../common/scheduled-queue';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { MetricsService } from '../../infra/metrics/metrics.service';
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
  private readonly processed: Counter<'outcome'>;
  private readonly scheduled: ScheduledQueue;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    private readonly checklist: ChecklistService,
    metrics: MetricsService,
  ) {
    this.processed = new Counter({
      name: 'ops_scheduled_checklist_jobs_total',
      help: 'Scheduled checklist jobs this replica took: ran, or duplicate (refused by the database: a tick already run)',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
    this.scheduled = new ScheduledQueue({
      config,
      queue: HEALTH_QUEUE,
      timeZone: inventory.timezone,
      schedules: [{ id: DAILY_CHECKLIST_SCHEDULER, pattern: inventory.schedules.dailyChecklist, jobName: 'checklist' }],
      process: (job) => this.process(job),
      logger: new Logger(ChecklistScheduler.name),
      what: 'daily checklist',
    });
  }

  onModuleInit(): void {
    this.scheduled.start();
  }

  private async process(job: Job): Promise<string> {
    const tick = tickOf(job);
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

  onApplicationShutdown(): Promise<void> {
    return this.scheduled.close();
  }
}
