import { ArgsType, Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, ValidateBy, ValidationOptions } from 'class-validator';
import { PageArgs } from '../../../common/graphql-page';
import { PageQuery } from '../../../common/pagination';
import { isIsoDateTime } from '../../../common/validation';
import { GraphQLJSON } from '../../../graphql/json.scalar';
import { VERDICTS } from '../../health/public';

const DATE_MESSAGE = 'must be a calendar date YYYY-MM-DD, for example 2026-01-19';

/** A real calendar date, YYYY-MM-DD (no time, no 2026-02-31). */
export function IsCalendarDate(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isCalendarDate',
      validator: {
        validate: (v: unknown) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && isIsoDateTime(v),
        defaultMessage: () => DATE_MESSAGE,
      },
    },
    options,
  );
}

@ObjectType('ReviewMetric')
export class ReviewMetricModel {
  @ApiProperty({ example: 'p95' }) @Field() metric: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: VERDICTS }) @Field() verdict: string;
  @ApiProperty({ nullable: true, type: Number, description: 'The number judged; null when unknown or nothing to measure' })
  @Field(() => Float, { nullable: true })
  value: number | null;
  @ApiProperty({ example: 's' }) @Field() unit: string;
  @ApiProperty({ description: 'What was observed; for unknown, why' }) @Field() observed: string;
  @ApiProperty({ example: '< 1 s (warn at 0.8 s)' }) @Field() target: string;
  @ApiProperty({ description: 'Where the value came from' }) @Field() source: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) @Field(() => GraphQLJSON, { nullable: true }) details?: Record<
    string,
    unknown
  >;
}

@ObjectType('ReviewDashboard')
export class ReviewDashboardModel {
  @ApiProperty({ enum: ['system-overview', 'api-performance', 'database-health', 'qt09-protocol', 'quality-control'] })
  @Field()
  dashboard: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: VERDICTS }) @Field() verdict: string;
  @ApiProperty({ type: [ReviewMetricModel] }) @Field(() => [ReviewMetricModel]) metrics: ReviewMetricModel[];
}

@ObjectType('ReviewWindow')
export class ReviewWindowModel {
  @ApiProperty() @Field() from: Date;
  @ApiProperty() @Field() to: Date;
}

@ObjectType('DailyReview')
export class DailyReviewModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty({ example: '2026-01-19', description: 'Local date (inventory time zone)' }) @Field() date: string;
  @ApiProperty({ example: 'Asia/Jakarta' }) @Field() timezone: string;
  @ApiProperty({
    type: ReviewWindowModel,
    description: 'The reviewed period [from, to): the 24 hours before the review, or a past calendar day',
  })
  @Field(() => ReviewWindowModel)
  window: ReviewWindowModel;
  @ApiProperty() @Field() generatedAt: Date;
  @ApiProperty() @Field(() => Int) durationMs: number;
  @ApiProperty({ enum: ['manual', 'schedule'] }) @Field() trigger: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) requestedBy: string | null;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) scheduledFor: Date | null;
  @ApiProperty({ enum: VERDICTS, description: 'Worst verdict of the five dashboards' }) @Field() verdict: string;
  @ApiProperty({ type: [ReviewDashboardModel] }) @Field(() => [ReviewDashboardModel]) dashboards: ReviewDashboardModel[];
}

export class DailyReviewPage {
  @ApiProperty({ type: [DailyReviewModel] }) items: DailyReviewModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class ReviewDateQuery {
  @ApiPropertyOptional({ description: 'The latest review of this local date (default: the latest review)', example: '2026-01-19' })
  @IsOptional()
  @IsString()
  @IsCalendarDate()
  date?: string;
}

export class GenerateReviewDto {
  @ApiPropertyOptional({
    description: 'Review a past local day (its calendar day); default: the 24 hours up to now',
    example: '2026-01-19',
  })
  @IsOptional()
  @IsString()
  @IsCalendarDate()
  date?: string;
}

export class ReviewListQuery extends PageQuery {}

@ArgsType()
export class ReviewDateArgs {
  @Field(() => String, { nullable: true, description: 'Local date YYYY-MM-DD' }) @IsOptional() @IsString() @IsCalendarDate() date?: string;
}

@ArgsType()
export class ReviewListArgs extends PageArgs {}
