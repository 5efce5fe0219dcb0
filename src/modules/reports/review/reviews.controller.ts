import { Body, Controller, Get, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity } from '../../../common/current-identity.decorator';
import { Identity } from '../../../common/request-context';
import { RequireRight } from '../../../guards/right.decorator';
import { ReviewService } from './review.service';
import { DailyReviewModel, DailyReviewPage, GenerateReviewDto, ReviewDateQuery, ReviewListQuery } from './reviews.dto';

@ApiTags('reviews')
@Controller('api/v1/reviews')
export class ReviewsController {
  constructor(private readonly reviews: ReviewService) {}

  @Post('daily')
  @RequireRight('reviews.create', { action: 'review.create' })
  @ApiOperation({
    summary: 'Generate the Daily Performance Review now (P3): the five dashboards, each metric with its target and verdict; stored',
  })
  @ApiCreatedResponse({ type: DailyReviewModel })
  async generate(@Body() body: GenerateReviewDto, @CurrentIdentity() identity: Identity): Promise<DailyReviewModel> {
    return ReviewService.toModel(await this.reviews.generate('manual', identity.username, { date: body.date }));
  }

  @Get('daily')
  @RequireRight('reviews.read')
  @ApiOperation({ summary: 'The latest Daily Performance Review, or the latest of ?date=YYYY-MM-DD (404 when there is none)' })
  @ApiOkResponse({ type: DailyReviewModel })
  async latest(@Query() query: ReviewDateQuery): Promise<DailyReviewModel> {
    return ReviewService.toModel(await this.reviews.latest(query.date));
  }

  @Get()
  @RequireRight('reviews.read')
  @ApiOperation({ summary: 'Stored daily reviews, newest first (cursor-paginated)' })
  @ApiOkResponse({ type: DailyReviewPage })
  async list(@Query() query: ReviewListQuery): Promise<DailyReviewPage> {
    const page = await this.reviews.list(query);
    return { items: page.items.map(ReviewService.toModel), nextCursor: page.nextCursor };
  }
}
