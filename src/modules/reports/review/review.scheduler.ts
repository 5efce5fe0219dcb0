import { Inject, Injectable } from '@nestjs/common';
import { ScheduledJobs } from '../../../common/scheduled-jobs';
import { AppConfig } from '../../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../../config/config.module';
import { Inventory } from '../../../config/inventory.schema';
import { MetricsService } from '../../../infra/metrics/metrics.service';
import { ReviewService } from './review.service';

export const REVIEWS_QUEUE = 'reviews';
export const DAILY_REVIEW_SCHEDULER = 'daily-review';

/**
 * The Daily Performance Review on the inventory's schedule (schedules.dailyReview): once per
 * tick across replicas; the review records the tick it served (unique in the database as a
 * second guard).
 */
@Injectable()
export class ReviewScheduler extends ScheduledJobs {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    reviews: ReviewService,
    metrics: MetricsService,
  ) {
    super({
      config,
      timeZone: inventory.timezone,
      what: 'daily review',
      metric: 'review',
      registry: metrics.registry,
      jobs: [
        {
          id: DAILY_REVIEW_SCHEDULER,
          queue: REVIEWS_QUEUE,
          pattern: inventory.schedules.dailyReview,
          name: 'daily-review',
          recordsTick: true,
          run: async ({ tick, identity }) => (await reviews.generate('schedule', identity.username, { scheduledFor: tick })).id,
        },
      ],
    });
  }
}
