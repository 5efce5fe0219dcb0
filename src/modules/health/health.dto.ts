import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { PageArgs } from '../../common/graphql-page';
import { PageQuery } from '../../common/pagination';
import { IsIsoDateTime } from '../../common/validation';
import { GraphQLJSON } from '../../graphql/json.scalar';
import { Verdict, VERDICTS } from './check';
import { CHECKLIST_KINDS, ChecklistKind } from './checklist';

const VERDICT_MESSAGE = `must be one of ${VERDICTS.join(', ')}`;
const KIND_MESSAGE = `must be one of ${CHECKLIST_KINDS.join(', ')}`;
const KIND_DESCRIPTION = 'checklist: the daily startup checklist (every item); hourly: the hourly health check (services and key metrics)';

@ObjectType('CheckResult')
export class CheckResultModel {
  @ApiProperty({ example: 'service:postgres' }) @Field() check: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: VERDICTS }) @Field() verdict: string;
  @ApiProperty() @Field() observed: string;
  @ApiProperty() @Field() expected: string;
  @ApiProperty() @Field(() => Int) durationMs: number;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) nextStep?: string;
  @ApiPropertyOptional({
    description: 'Not a pass: the procedure that addresses it (POST /api/v1/procedures/{id}/runs)',
    example: 'db.connection-pool-exhausted',
  })
  @Field(() => String, { nullable: true, description: 'Not a pass: the procedure that addresses it' })
  remediation?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) @Field(() => GraphQLJSON, { nullable: true }) details?: Record<
    string,
    unknown
  >;
}

@ObjectType('Escalation')
export class EscalationModel {
  @ApiProperty({ enum: ['P1', 'P2', 'P3'] }) @Field() severity: string;
  @ApiPropertyOptional({
    description: "The escalation table's situation, when the failure is one of its rows",
    example: 'API slow (> 5 s)',
  })
  @Field({ nullable: true })
  situation?: string;
  @ApiProperty({ type: [String] }) @Field(() => [String]) contacts: string[];
  @ApiProperty() @Field(() => Int) responseMinutes: number;
}

@ObjectType('ChecklistItem')
export class ChecklistItemModel {
  @ApiProperty({ example: 'services' }) @Field() item: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: VERDICTS }) @Field() verdict: string;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) nextStep?: string;
  @ApiPropertyOptional({ description: 'Not a pass: the procedure that addresses its first failing check', example: 'backend.crash-loop' })
  @Field(() => String, { nullable: true, description: 'Not a pass: the procedure that addresses its first failing check' })
  remediation?: string;
  @ApiPropertyOptional({ type: EscalationModel }) @Field(() => EscalationModel, { nullable: true }) escalation?: EscalationModel;
  @ApiProperty({ type: [CheckResultModel] }) @Field(() => [CheckResultModel]) checks: CheckResultModel[];
}

@ObjectType('ChecklistRun')
export class ChecklistRunModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() startedAt: Date;
  @ApiProperty() @Field() finishedAt: Date;
  @ApiProperty() @Field(() => Int) durationMs: number;
  @ApiProperty() @Field(() => Int) deadlineMs: number;
  @ApiProperty({ description: "Sum of the checks' own durations (they run concurrently)" }) @Field(() => Int) checksDurationMs: number;
  @ApiProperty({ enum: ['manual', 'schedule'] }) @Field() trigger: string;
  @ApiProperty({ enum: CHECKLIST_KINDS, description: KIND_DESCRIPTION }) @Field({ description: KIND_DESCRIPTION }) kind: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) requestedBy: string | null;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) scheduledFor: Date | null;
  @ApiProperty({ enum: VERDICTS }) @Field() verdict: string;
  @ApiProperty({ type: [ChecklistItemModel] }) @Field(() => [ChecklistItemModel]) items: ChecklistItemModel[];
}

export class ChecklistRunPage {
  @ApiProperty({ type: [ChecklistRunModel] }) items: ChecklistRunModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

@ObjectType('HealthLine')
export class HealthLineModel {
  @ApiProperty() @Field() item: string;
  @ApiProperty() @Field() check: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: VERDICTS }) @Field() verdict: string;
  @ApiProperty() @Field() observed: string;
  @ApiProperty() @Field() expected: string;
}

@ObjectType('HealthSummary')
export class HealthSummaryModel {
  @ApiProperty({ enum: VERDICTS, description: 'Worst verdict of the latest run (unknown when there is none)' }) @Field() verdict: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) runId: string | null;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) checkedAt: Date | null;
  @ApiProperty({ nullable: true, type: Number }) @Field(() => Int, { nullable: true }) ageSeconds: number | null;
  @ApiProperty({ description: "True when the latest run is older than the schedule's interval (or there is none)" })
  @Field()
  stale: boolean;
  @ApiProperty() @Field(() => Int) staleAfterSeconds: number;
  @ApiProperty({ type: [ChecklistItemModel] }) @Field(() => [ChecklistItemModel]) items: ChecklistItemModel[];
  @ApiProperty({ type: [HealthLineModel], description: 'One line per service, check and metric' })
  @Field(() => [HealthLineModel])
  lines: HealthLineModel[];
}

export class ChecklistKindQuery {
  @ApiPropertyOptional({ enum: CHECKLIST_KINDS, description: `${KIND_DESCRIPTION} (default checklist)` })
  @IsOptional()
  @IsIn(CHECKLIST_KINDS, { message: KIND_MESSAGE })
  kind?: ChecklistKind;
}

@ArgsType()
export class RunChecklistArgs {
  @Field(() => String, { nullable: true, description: `${KIND_DESCRIPTION} (default checklist)` })
  @IsOptional()
  @IsIn(CHECKLIST_KINDS, { message: KIND_MESSAGE })
  kind?: ChecklistKind;
}

export class ChecklistQuery extends PageQuery {
  @ApiPropertyOptional({ enum: CHECKLIST_KINDS, description: 'Only runs of this kind' })
  @IsOptional()
  @IsIn(CHECKLIST_KINDS, { message: KIND_MESSAGE })
  kind?: ChecklistKind;

  @ApiPropertyOptional({ description: 'Runs started at or after (ISO 8601)', example: '2026-01-19T00:00:00Z' })
  @IsOptional()
  @IsIsoDateTime({ message: 'must be an ISO 8601 date-time, for example 2026-01-19T00:00:00Z' })
  from?: string;

  @ApiPropertyOptional({ description: 'Runs started before (ISO 8601)', example: '2026-01-20T00:00:00Z' })
  @IsOptional()
  @IsIsoDateTime({ message: 'must be an ISO 8601 date-time, for example 2026-01-20T00:00:00Z' })
  to?: string;

  @ApiPropertyOptional({ enum: VERDICTS })
  @IsOptional()
  @IsIn(VERDICTS, { message: VERDICT_MESSAGE })
  verdict?: Verdict;
}

@ArgsType()
export class ChecklistArgs extends PageArgs {
  @Field(() => String, { nullable: true }) @IsOptional() @IsIsoDateTime({ message: 'must be an ISO 8601 date-time' }) from?: string;
  @Field(() => String, { nullable: true }) @IsOptional() @IsIsoDateTime({ message: 'must be an ISO 8601 date-time' }) to?: string;
  @Field(() => String, { nullable: true }) @IsOptional() @IsIn(VERDICTS, { message: VERDICT_MESSAGE }) verdict?: Verdict;
  @Field(() => String, { nullable: true, description: 'Only runs of this kind (checklist or hourly)' })
  @IsOptional()
  @IsIn(CHECKLIST_KINDS, { message: KIND_MESSAGE })
  kind?: ChecklistKind;
}

export class SummaryQuery {
  @ApiPropertyOptional({
    enum: ['json', 'text'],
    description: 'text: the checklist with ✓/✗ marks, for a terminal (also Accept: text/plain)',
  })
  @IsOptional()
  @IsIn(['json', 'text'], { message: 'must be json or text' })
  format?: 'json' | 'text';
}
