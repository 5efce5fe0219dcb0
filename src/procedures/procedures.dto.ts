import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageQuery } from '../common/pagination';

const STATUSES = ['queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'cancelled', 'rejected', 'expired', 'interrupted'] as const;

export class CreateRunDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'The procedure\'s parameters (GET /api/v1/procedures lists them)' })
  @IsOptional()
  @IsObject({ message: 'must be a JSON object' })
  parameters?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'Plan only: every step says what it would touch; nothing changes', default: false })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  dryRun?: boolean;

  @ApiPropertyOptional({ description: 'P1 procedures: the target\'s name, typed out (e.g. the database name)' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(200)
  confirm?: string;
}

export class RunQuery extends PageQuery {
  @ApiPropertyOptional({ enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES, { message: `must be one of ${STATUSES.join(', ')}` })
  status?: (typeof STATUSES)[number];

  @ApiPropertyOptional({ example: 'backup.create' })
  @IsOptional()
  @Matches(/^[a-z][a-z0-9.-]{1,99}$/, { message: 'must be a procedure id, for example backup.create' })
  procedure?: string;
}

export class StepModel {
  @ApiProperty() position: number;
  @ApiProperty() stepId: string;
  @ApiProperty() title: string;
  @ApiProperty({ enum: ['pending', 'planned', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true, description: 'What it would touch / touched' }) plan: Record<string, unknown> | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) output: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
}

export class RunModel {
  @ApiProperty() id: string;
  @ApiProperty() procedureId: string;
  @ApiProperty({ enum: ['P1', 'P2', 'P3'] }) severity: string;
  @ApiProperty() dryRun: boolean;
  @ApiProperty({ enum: STATUSES }) status: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) parameters: Record<string, unknown>;
  @ApiProperty() requestedBy: string;
  @ApiProperty() requestedRole: string;
  @ApiProperty({ nullable: true, type: String }) approvedBy: string | null;
  @ApiProperty({ nullable: true, type: Date }) approvalExpiresAt: Date | null;
  @ApiProperty({ nullable: true, type: String }) currentStep: string | null;
  @ApiProperty({ nullable: true, type: String }) error: string | null;
  @ApiProperty() createdAt: Date;
  @ApiProperty({ nullable: true, type: Date }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: Date }) finishedAt: Date | null;
  @ApiPropertyOptional({ type: [StepModel] }) steps?: StepModel[];
}

export class RunPage {
  @ApiProperty({ type: [RunModel] }) items: RunModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class ProcedureModel {
  @ApiProperty() id: string;
  @ApiProperty() title: string;
  @ApiProperty({ enum: ['P1', 'P2', 'P3'] }) severity: string;
  @ApiProperty({ enum: ['system', 'database'] }) domain: string;
  @ApiProperty() requiresApproval: boolean;
  @ApiProperty({ description: 'A real run needs `confirm`' }) confirmation: boolean;
  @ApiProperty({ type: [String], description: 'Roles that may request it' }) roles: string[];
}
