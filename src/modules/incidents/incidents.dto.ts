import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDate,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { PageQuery } from '../../common/pagination';
import { INCIDENT_SEVERITIES } from '../../config/incidents.schema';

const STATUSES = ['triggered', 'acknowledged', 'resolved'] as const;
const list = ({ value }: { value: unknown }) =>
  value === undefined ? value : (Array.isArray(value) ? value : [value]).flatMap((v) => (typeof v === 'string' ? v.split(',') : [v]));

export const INCIDENT_ID = /^INC-\d{8}-\d{3,}$/;

export class IncidentsQuery extends PageQuery {
  @ApiPropertyOptional({ type: [String], enum: STATUSES, description: 'Repeat or comma-separate: triggered,acknowledged' })
  @IsOptional()
  @Transform(list)
  @IsArray()
  @ArrayMaxSize(3)
  @IsIn(STATUSES, { each: true, message: 'each must be triggered, acknowledged or resolved' })
  status?: string[];

  @ApiPropertyOptional({ type: [String], enum: INCIDENT_SEVERITIES, description: 'Repeat or comma-separate: P1,P2' })
  @IsOptional()
  @Transform(list)
  @IsArray()
  @ArrayMaxSize(4)
  @IsIn(INCIDENT_SEVERITIES, { each: true, message: 'each must be P1, P2, P3 or P4' })
  severity?: string[];

  @ApiPropertyOptional({ description: 'The component (service) label, e.g. api, database' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  component?: string;

  @ApiPropertyOptional({ description: 'Assigned to this username' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  assignee?: string;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Opened at or after' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'must be an ISO 8601 time, for example 2026-12-07T00:00:00Z' })
  from?: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'Opened before' })
  @IsOptional()
  @Type(() => Date)
  @IsDate({ message: 'must be an ISO 8601 time, for example 2026-12-08T00:00:00Z' })
  to?: Date;
}

export class CreateIncidentDto {
  @ApiProperty({ maxLength: 500, example: 'Production line 2 cannot post transfers' })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(500, { message: 'must be at most 500 characters' })
  title: string;

  @ApiProperty({ enum: INCIDENT_SEVERITIES })
  @IsIn(INCIDENT_SEVERITIES, { message: 'must be P1, P2, P3 or P4' })
  severity: 'P1' | 'P2' | 'P3' | 'P4';

  @ApiPropertyOptional({ example: 'api' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9_.-]{0,127}$/, { message: 'must be a component name (lower case letters, digits, - _ .), for example api' })
  component?: string;

  @ApiPropertyOptional({ description: 'Username of whoever takes it' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  assignee?: string;

  @ApiPropertyOptional({
    description: 'The procedure suggested for it (its dry-run plan is computed at once)',
    example: 'backend.crash-loop',
  })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9.-]{0,63}$/, { message: 'must be a procedure id, for example backend.crash-loop' })
  procedureId?: string;
  @ApiPropertyOptional({
    description:
      "The escalation table's situation it is opened for (a row id at the incident's level): its contacts are named and its response time paces the first step",
    example: 'single-user',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(/^[a-z0-9][a-z0-9-]{0,39}$/, { message: 'must be a situation id of the escalation table, for example single-user' })
  situation?: string;
}

export class TextDto {
  @ApiProperty({ maxLength: 10000 })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(10000, { message: 'must be at most 10000 characters' })
  text: string;
}

export class ResolveDto {
  @ApiPropertyOptional({ maxLength: 10000, description: 'Why it is resolved (into the timeline)' })
  @IsOptional()
  @IsString()
  @MaxLength(10000)
  note?: string;
}

export class AssignDto {
  @ApiProperty({ description: 'Username of whoever takes it' })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(128)
  assignee: string;
}

export class IncidentRunDto {
  @ApiPropertyOptional({ description: "The procedure (default: the incident's suggested one)" })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9.-]{0,63}$/, { message: 'must be a procedure id, for example backend.crash-loop' })
  procedureId?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject({ message: 'must be an object of parameters' })
  parameters?: Record<string, unknown>;

  @ApiPropertyOptional()
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  dryRun?: boolean;

  @ApiPropertyOptional({ description: 'Typed confirmation of a P1/P2 procedure' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  confirm?: string;
}

export class IncidentModel {
  @ApiProperty({ example: 'INC-20261207-001' }) id: string;
  @ApiProperty() title: string;
  @ApiProperty({ enum: INCIDENT_SEVERITIES }) severity: string;
  @ApiProperty({ nullable: true, type: String }) component: string | null;
  @ApiProperty({ enum: STATUSES }) status: string;
  @ApiProperty({ enum: ['alert', 'manual'] }) source: string;
  @ApiProperty({ nullable: true, type: String }) assignee: string | null;
  @ApiProperty() createdBy: string;
  @ApiProperty() createdAt: Date;
  @ApiProperty({ nullable: true, type: Date }) acknowledgedAt: Date | null;
  @ApiProperty({ nullable: true, type: String }) acknowledgedBy: string | null;
  @ApiProperty({ nullable: true, type: Date }) resolvedAt: Date | null;
  @ApiProperty({ nullable: true, type: String }) resolvedBy: string | null;
  @ApiProperty({ nullable: true, type: Date, description: 'When it resolves itself (all its alerts resolved)' }) resolveAt: Date | null;
  @ApiProperty({ description: 'Escalation position: round and step of the chain (from 0)' }) escalation: {
    round: number;
    step: number;
    level: string;
    nextAt: Date | null;
    escalations: number;
  };
  @ApiProperty({ nullable: true, type: Date }) nextStatusUpdateAt: Date | null;
  @ApiProperty({ nullable: true, type: Date }) reportDueAt: Date | null;
  @ApiProperty({ nullable: true, type: Date }) reportSubmittedAt: Date | null;
  @ApiProperty({ nullable: true, type: String }) suggestedProcedure: string | null;
  @ApiProperty({ nullable: true, type: String, description: "The escalation table's situation it was opened for" }) situation:
    string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: true, description: "The suggested procedure's dry-run plan" })
  plan: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The escalation policy as it was when it opened' })
  policy: Record<string, unknown>;
}

export class IncidentPage {
  @ApiProperty({ type: [IncidentModel] }) items: IncidentModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class IncidentEventModel {
  @ApiProperty() id: string;
  @ApiProperty() at: Date;
  @ApiProperty() type: string;
  @ApiProperty({ nullable: true, type: String }) actor: string | null;
  @ApiProperty() message: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data: Record<string, unknown>;
}

export class IncidentDetailModel extends IncidentModel {
  @ApiProperty({ type: [String] }) groupKeys: string[];
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) alerts: Record<string, unknown>[];
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) runs: Record<string, unknown>[];
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true }, description: 'Pages: one person, one channel' })
  notifications: Record<string, unknown>[];
  @ApiProperty({ type: [IncidentEventModel] }) timeline: IncidentEventModel[];
  @ApiProperty({ nullable: true, type: String }) report: string | null;
}

export class OnCallModel {
  @ApiProperty() at: Date;
  @ApiProperty() timezone: string;
  @ApiProperty({ type: 'array', items: { type: 'object', additionalProperties: true } }) levels: Record<string, unknown>[];
  @ApiProperty({
    type: [String],
    description:
      'What is wrong with the on-call set-up (also warned at start): contacts nobody can reach, the hours of every week and the dated periods ahead when a level has nobody on call, in the inventory time zone',
  })
  problems: string[];
}
