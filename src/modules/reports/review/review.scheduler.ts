import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job } from 'bullmq';
import { Counter } from 'prom-client';
import { ScheduledQueue, tickOf } from '../../../common/scheduled-queue';
import { AppConfig } from '../../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../../config/config.module';
import { Inventory } from '../../../config/inventory.schema';
import { MetricsService } from '../../../infra/metrics/metrics.service';
import { ReviewService } from './review.service';

export const REVIEWS_QUEUE = 'reviews';
export const DAILY_REVIEW_SCHEDULER = 'daily-review';

/**
 * Generates the Daily Performance Review on the inventory's schedule (schedules.dailyReview,
 * in its time zone) through the job queue: every replica registers the same job scheduler
 * and runs a worker; each tick makes one job that one worker takes. The review records the
 * tick it served (unique in the database as a second guard). Off when OPS_SCHEDULER=false.
 */
@Injectable()
export class ReviewScheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly processed: Counter<'outcome'>;
  private readonly scheduled: ScheduledQueue;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    private readonly reviews: ReviewService,
    metrics: MetricsService,
  ) {
    this.processed = new Counter({
      name: 'ops_scheduled_review_jobs_total',
      help: 'Scheduled daily review jobs this replica took: ran, or duplicate (refused by the database: a tick already served)',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
    this.scheduled = new ScheduledQueue({
      config,
      queue: REVIEWS_QUEUE,
      timeZone: inventory.timezone,
      schedules: [{ id: DAILY_REVIEW_SCHEDULER, pattern: inventory.schedules.dailyReview, jobName: 'daily-review' }],
      process: (job) => this.process(job),
      logger: new Logger(ReviewScheduler.name),
      what: 'daily review',
    });
  }

  onModuleInit(): void {
    this.scheduled.start();
  }

  private async process(job: Job): Promise<string> {
    const tick = tickOf(job);
    try {
      const review = await this.reviews.generate('schedule', 'scheduler', { scheduledFor: tick });
      this.processed.inc({ outcome: 'ran' });
      return review.id;
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        this.processed.inc({ outcome: 'duplicate' });
        return 'already generated for this tick';
      }
      throw error;
    }
  }

  onApplicationShutdown(): Promise<void> {
    return this.scheduled.close();
  }
}
