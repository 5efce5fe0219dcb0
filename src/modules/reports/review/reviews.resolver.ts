import { Args, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { CurrentIdentity } from '../../../common/current-identity.decorator';
import { PageOf } from '../../../common/graphql-page';
import { Identity } from '../../../common/request-context';
import { RequireRight } from '../../../guards/right.decorator';
import { ReviewService } from './review.service';
import { DailyReviewModel, ReviewDateArgs, ReviewListArgs } from './reviews.dto';

@ObjectType('DailyReviewPage')
class DailyReviewPageModel extends PageOf(DailyReviewModel, 'DailyReviewPageBase') {}

@Resolver()
export class ReviewsResolver {
  constructor(private readonly reviews: ReviewService) {}

  @Query(() => DailyReviewModel, { description: 'The latest Daily Performance Review, or the latest of a local date' })
  @RequireRight('reviews.read')
  async dailyReview(@Args() args: ReviewDateArgs): Promise<DailyReviewModel> {
    return ReviewService.toModel(await this.reviews.latest(args.date));
  }

  @Query(() => DailyReviewPageModel, { description: 'Stored daily reviews, newest first' })
  @RequireRight('reviews.read')
  async dailyReviews(@Args() args: ReviewListArgs) {
    const page = await this.reviews.list(args);
    return { items: page.items.map(ReviewService.toModel), nextCursor: page.nextCursor };
  }

  @Mutation(() => DailyReviewModel, { description: 'Generate the Daily Performance Review now (optionally of a past local date)' })
  @RequireRight('reviews.create', { action: 'review.create' })
  async generateDailyReview(@Args() args: ReviewDateArgs, @CurrentIdentity() identity: Identity): Promise<DailyReviewModel> {
    return ReviewService.toModel(await this.reviews.generate('manual', identity.username, { date: args.date }));
  }
}
