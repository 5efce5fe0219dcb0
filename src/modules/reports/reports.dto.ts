import { ArgsType, Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow } from 'class-validator';
import { PageArgs, PageOf } from '../../common/graphql-page';
import { PageQuery } from '../../common/pagination';
import { GraphQLJSON } from '../../graphql/json.scalar';
import { REPORT_FORMATS } from './render/report-format';
import { DEFAULT_SECTIONS, MAX_PERIOD_DAYS, PERFORMANCE_SECTIONS } from './report-period';

/**
 * The admin panel's request body (snake_case, as the runbook sends it). The fields are checked
 * by validatePerformanceRequest (real dates, order, length, sections), so that each problem is
 * a 400 naming the field and the allowed values; unknown fields are refused by the pipe.
 */
@InputType('PerformanceReportInput')
export class PerformanceReportRequestDto {
  @ApiProperty({ example: '2026-01-13', description: "First day, YYYY-MM-DD, in the inventory's time zone" })
  @Field(() => String, { description: "First day, YYYY-MM-DD, in the inventory's time zone" })
  @Allow()
  start_date: unknown;

  @ApiProperty({ example: '2026-01-19', description: `Last day (inclusive); at most ${MAX_PERIOD_DAYS} days after start_date` })
  @Field(() => String, { description: 'Last day (inclusive), YYYY-MM-DD' })
  @Allow()
  end_date: unknown;

  @ApiPropertyOptional({ type: [String], enum: PERFORMANCE_SECTIONS, default: DEFAULT_SECTIONS })
  @Field(() => [String], {
    nullable: true,
    description: `Sections: ${PERFORMANCE_SECTIONS.join(', ')} (default ${DEFAULT_SECTIONS.join(', ')})`,
  })
  @Allow()
  include?: unknown;
}

@ObjectType('PerformanceReport')
export class PerformanceReportModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() startDate: string;
  @ApiProperty() @Field() endDate: string;
  @ApiProperty() @Field() timeZone: string;
  @ApiProperty({ type: [String] }) @Field(() => [String]) include: string[];
  @ApiProperty() @Field() generatedAt: string;
  @ApiProperty() @Field() generatedBy: string;
  @ApiProperty() @Field(() => Int) durationMs: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Headline numbers: requests, p95Seconds, p95TargetMet, errorRatePercent, errorRateTargetMet, dataCoverage, gaps, notes',
  })
  @Field(() => GraphQLJSON)
  summary: Record<string, unknown>;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description: 'The whole report document (null in lists)',
  })
  @Field(() => GraphQLJSON, {
    nullable: true,
    description: 'The whole report document (as GET /admin/reports/performance/{id}); null in lists',
  })
  report?: Record<string, unknown> | null;
}

@ObjectType('PerformanceReportPage')
export class PerformanceReportPageModel extends PageOf(PerformanceReportModel, 'PerformanceReportPageBase') {}

export class PerformanceReportListQuery extends PageQuery {}

/**
 * The representation of one report (GET one, and POST's 201 answer). Checked by
 * negotiateReportFormat, so that each problem is a 400 naming the parameter and its values.
 */
export class PerformanceReportFormatQuery {
  @ApiPropertyOptional({
    enum: REPORT_FORMATS,
    description:
      "json (default), csv (every table zipped; one section's table with section), html (self-contained page with charts); wins over Accept",
  })
  @Allow()
  format?: unknown;

  @ApiPropertyOptional({
    enum: PERFORMANCE_SECTIONS,
    description: "One section's CSV table (text/csv) instead of the zip; the report must include the section",
  })
  @Allow()
  section?: unknown;

  @ApiPropertyOptional({
    description:
      'With section: which of its tables (default days): response_times: days, slowest_endpoints, hours_above_target; error_rates: days, endpoints, error_types; usage_patterns: days, weekday_hour, top_endpoints, methods; availability: days; backups: days, by_kind; incidents: days, by_severity, incidents',
  })
  @Allow()
  table?: unknown;
}

@ArgsType()
export class PerformanceReportListArgs extends PageArgs {}

/** The list item shape of a stored report document. */
export function reportModel(report: Record<string, any>): PerformanceReportModel {
  return {
    id: report.id,
    startDate: report.period.startDate,
    endDate: report.period.endDate,
    timeZone: report.period.timeZone,
    include: report.include,
    generatedAt: report.generatedAt,
    generatedBy: report.generatedBy,
    durationMs: report.durationMs,
    summary: report.summary,
    report,
  };
}
