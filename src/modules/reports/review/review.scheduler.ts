import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import { Counter } from 'prom-client';
import Redis from 'ioredis';
import { closeQueueClients } from '../../../common/bounded-close';
import { AppConfig } from '../../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../../config/config.module';
import { Inventory } from '../../../config/inventory.schema';
import { MetricsService } from '../../system/metrics.service';
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
  private readonly logger = new Logger(ReviewScheduler.name);
  private queue?: Queue;
  private worker?: Worker;
  private connection?: Redis;
  private retry?: NodeJS.Timeout;
  private closing = false;
  private readonly processed: Counter<'outcome'>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly reviews: ReviewService,
    metrics: MetricsService,
  ) {
    this.processed = new Counter({
      name: 'ops_scheduled_review_jobs_total',
      help: 'Scheduled daily review jobs this replica took: ran, or duplicate (refused by the database: a tick already served)',
      labelNames: ['outcome'] as const,
      registers: [metrics.registry],
    });
  }

  async onModuleInit(): Promise<void> {
    if (!this.config.OPS_SCHEDULER) return;
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
    this.connection.on('error', () => undefined);
    const prefix = `${this.config.OPS_REDIS_PREFIX}bull`;
    this.queue = new Queue(REVIEWS_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.logger.warn(`reviews queue: ${error.message}`));
    this.worker = new Worker(REVIEWS_QUEUE, (job) => this.process(job), { connection: this.connection, prefix, concurrency: 1 });
    this.worker.on('error', (error) => this.logger.warn(`reviews queue: ${error.message}`));
    // In the background: a Redis that is down at start must not hold the start-up; retried.
    void this.register();
  }

  private async register(attempt = 1): Promise<void> {
    if (!this.queue || this.closing) return;
    const pattern = this.inventory.schedules.dailyReview;
    try {
      await this.queue.upsertJobScheduler(DAILY_REVIEW_SCHEDULER, { pattern, tz: this.inventory.timezone }, { name: 'daily-review', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } });
      this.logger.log(`daily review scheduled: "${pattern}" (${this.inventory.timezone})`);
    } catch (error) {
      this.logger.warn(`daily review not scheduled yet (attempt ${attempt}): ${(error as Error).message}`);
      this.retry = setTimeout(() => void this.register(attempt + 1), Math.min(30_000, 1000 * attempt));
      this.retry.unref();
    }
  }

  private async process(job: Job): Promise<string> {
    // A scheduler's job id ends with the tick's exact time (repeat:<scheduler>:<millis>).
    const exact = /:(\d{12,})$/.exec(String(job.id ?? ''));
    const tick = new Date(exact ? Number(exact[1]) : job.timestamp + (job.opts.delay ?? 0));
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

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retry);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }
}
