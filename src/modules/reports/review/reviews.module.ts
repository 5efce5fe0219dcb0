import { Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IntegrationsModule } from '../../../integrations/integrations.module';
import { MetricsService } from '../../../infra/metrics/metrics.service';
import { registerReportKind } from '../report-last-generated';
import { DailyReviewEntity } from './review.entity';
import { ReviewScheduler } from './review.scheduler';
import { ReviewService } from './review.service';
import { ReviewsController } from './reviews.controller';
import { ReviewsResolver } from './reviews.resolver';

/** The Daily Performance Review: generated on schedule and on demand, stored, served; its time on /metrics. */
@Module({
  imports: [TypeOrmModule.forFeature([DailyReviewEntity]), IntegrationsModule],
  controllers: [ReviewsController],
  providers: [ReviewService, ReviewsResolver, ReviewScheduler],
})
export class ReviewsModule implements OnApplicationBootstrap {
  constructor(
    private readonly metrics: MetricsService,
    private readonly reviews: ReviewService,
  ) {}

  /** At bootstrap: after every module's onModuleInit, so a report gauge another module made is found and shared. */
  onApplicationBootstrap(): void {
    registerReportKind(this.metrics.registry, 'daily_review', () => this.reviews.lastGeneratedAt());
  }
}
