import { ArgsType, Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageArgs } from '../common/graphql-page';
import { PageQuery } from '../common/pagination';
import { GraphQLJSON } from '../graphql/json.scalar';

const STATUSES = [
  'queued',
  'awaiting_approval',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'rejected',
  'expired',
  'interrupted',
  'escalated',
] as const;
const STATUS_MESSAGE = `must be one of ${STATUSES.join(', ')}`;
const PROCEDURE_ID = /^[a-z][a-z0-9.-]{1,99}$/;
const PROCEDURE_MESSAGE = 'must be a procedure id, for example backup.create';

@InputType('RunRequestInput')
export class CreateRunDto {
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: "The procedure's parameters (GET /api/v1/procedures lists them)",
  })
  @Field(() => GraphQLJSON, { nullable: true, description: "The procedure's parameters (a JSON object)" })
  @IsOptional()
  @IsObject({ message: 'must be a JSON object' })
  parameters?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Plan only: every step says what it would touch; nothing changes', default: false })
  @Field(() => Boolean, { nullable: true, description: 'Plan only: every step says what it would touch; nothing changes' })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  dryRun?: boolean;

  @ApiPropertyOptional({ description: "P1 procedures: the target's name, typed out (e.g. the database name)" })
  @Field(() => String, { nullable: true, description: "P1 procedures: the target's name, typed out" })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(200)
  confirm?: string;
}

export class RunQuery extends PageQuery {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES, { message: STATUS_MESSAGE })
  status?: (typeof STATUSES)[number];

  @ApiPropertyOptional({ example: 'backup.create' })
  @IsOptional()
  @Matches(PROCEDURE_ID, { message: PROCEDURE_MESSAGE })
  procedure?: string;
}

@ArgsType()
export class RunArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: STATUSES.join(' | ') })
  @IsOptional()
  @IsIn(STATUSES, { message: STATUS_MESSAGE })
  status?: (typeof STATUSES)[number];

  @Field(() => String, { nullable: true, description: 'A procedure id, e.g. backup.create' })
  @IsOptional()
  @Matches(PROCEDURE_ID, { message: PROCEDURE_MESSAGE })
  procedure?: string;
}

@ObjectType('RunStep')
export class StepModel {
  @ApiProperty() @Field(() => Int) position: number;
  @ApiProperty() @Field() stepId: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: ['pending', 'planned', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] }) @Field() status: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'What it would touch / touched' })
  @Field(() => GraphQLJSON, { nullable: true, description: 'What it would touch / touched' })
  plan: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) @Field(() => GraphQLJSON, { nullable: true }) output: Record<
    string,
    unknown
  > | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) error: string | null;
}

@ObjectType('Run')
export class RunModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() procedureId: string;
  @ApiProperty({ enum: ['P1', 'P2', 'P3'] }) @Field() severity: string;
  @ApiProperty() @Field() dryRun: boolean;
  @ApiProperty({ enum: STATUSES }) @Field({ description: STATUSES.join(' | ') }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) @Field(() => GraphQLJSON) parameters: Record<string, unknown>;
  @ApiProperty() @Field() requestedBy: string;
  @ApiProperty() @Field() requestedRole: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) approvedBy: string | null;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) approvalExpiresAt: Date | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) currentStep: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) error: string | null;
  @ApiProperty() @Field() createdAt: Date;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: Date }) @Field(() => Date, { nullable: true }) finishedAt: Date | null;
  @ApiPropertyOptional({ type: [StepModel] })
  @Field(() => [StepModel], { nullable: true, description: 'Only on a single run' })
  steps?: StepModel[];
}

export class RunPage {
  @ApiProperty({ type: [RunModel] }) items: RunModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

@ObjectType('Procedure')
export class ProcedureModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() title: string;
  @ApiProperty({ enum: ['P1', 'P2', 'P3'] }) @Field() severity: string;
  @ApiProperty({ enum: ['system', 'database'] }) @Field() domain: string;
  @ApiProperty() @Field() requiresApproval: boolean;
  @ApiProperty({ description: 'A real run needs `confirm`' }) @Field({ description: 'A real run needs `confirm`' }) confirmation: boolean;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      "The escalation table's row it answers (a situation id of its level, e.g. data-at-risk): refusals and escalations name that row's contacts",
  })
  @Field(() => String, { nullable: true, description: "The escalation table's row it answers (a situation id of its level)" })
  situation: string | null;
  @ApiProperty({ type: [String], description: 'Roles that may request it' })
  @Field(() => [String], { description: 'Roles that may request it' })
  roles: string[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Its parameters, as JSON Schema' })
  @Field(() => GraphQLJSON, { description: 'Its parameters, as JSON Schema' })
  parameters: Record<string, unknown>;
  @ApiProperty({
    description: 'Some parameters raise the level (e.g. a longer silence, an optional restart): the run records the level it needed',
  })
  @Field({ description: 'Some parameters raise the level: the run records the level it needed' })
  levelDependsOnParameters: boolean;
  @ApiProperty({ type: [Object], description: 'Its steps (id, title, timeoutMs)' })
  @Field(() => GraphQLJSON, { description: 'Its steps (id, title, timeoutMs)' })
  steps: { id: string; title: string; timeoutMs: number }[];
}

@ObjectType('RunEvent')
export class RunEventModel {
  @Field(() => Int, { description: 'Position in this stream, from 1 (the SSE id)' }) id: number;
  @Field({ description: 'snapshot (the run, first), status, step, progress' }) type: string;
  @Field() runId: string;
  @Field(() => GraphQLJSON, { description: 'The event (the SSE data); for a snapshot, the run with its steps' }) data: Record<
    string,
    unknown
  >;
}
