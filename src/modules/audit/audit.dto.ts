import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { GraphQLJSON } from '../../graphql/json.scalar';
import { PageArgs } from '../../common/graphql-page';
import { PageQuery } from '../../common/pagination';
import { IsIsoDateTime } from '../../common/validation';

const OUTCOMES = ['success', 'failure', 'denied'] as const;

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Username (or token:<name>)' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  actor?: string;

  @ApiPropertyOptional({ example: 'tokens.create' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ enum: OUTCOMES })
  @IsOptional()
  @IsIn(OUTCOMES, { message: `must be one of ${OUTCOMES.join(', ')}` })
  outcome?: (typeof OUTCOMES)[number];

  @ApiPropertyOptional({ description: 'ISO 8601 time, inclusive', example: '2026-01-19T00:00:00Z' })
  @IsOptional()
  @IsIsoDateTime({ message: 'must be an ISO 8601 date-time, for example 2026-01-19T00:00:00Z' })
  from?: string;

  @ApiPropertyOptional({ description: 'ISO 8601 time, exclusive', example: '2026-01-20T00:00:00Z' })
  @IsOptional()
  @IsIsoDateTime({ message: 'must be an ISO 8601 date-time, for example 2026-01-20T00:00:00Z' })
  to?: string;
}

@ArgsType()
export class AuditArgs extends PageArgs {
  @Field(() => String, { nullable: true }) @IsOptional() @IsString() @MaxLength(128) actor?: string;
  @Field(() => String, { nullable: true }) @IsOptional() @IsString() @MaxLength(100) action?: string;
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsIn(OUTCOMES, { message: `must be one of ${OUTCOMES.join(', ')}` })
  outcome?: (typeof OUTCOMES)[number];
  @Field(() => String, { nullable: true }) @IsOptional() @IsIsoDateTime({ message: 'must be an ISO 8601 date-time' }) from?: string;
  @Field(() => String, { nullable: true }) @IsOptional() @IsIsoDateTime({ message: 'must be an ISO 8601 date-time' }) to?: string;
}

@ObjectType('AuditEntry')
export class AuditEntryModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() at: Date;
  @ApiProperty() @Field() actor: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) actorRole: string | null;
  @ApiProperty() @Field() action: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) target: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) @Field(() => GraphQLJSON) parameters: Record<string, unknown>;
  @ApiProperty({ enum: OUTCOMES }) @Field() outcome: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) errorCode: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) requestId: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) clientAddress: string | null;
  @ApiProperty() @Field() prevHash: string;
  @ApiProperty() @Field() hash: string;
}

export class AuditPage {
  @ApiProperty({ type: [AuditEntryModel] }) items: AuditEntryModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

@ObjectType('AuditVerification')
export class AuditVerificationModel {
  @ApiProperty() @Field() valid: boolean;
  @ApiProperty({ description: 'Entries checked' }) @Field(() => Int) checked: number;
  @ApiProperty({ nullable: true, type: String, description: 'First entry whose hash or link does not match' })
  @Field(() => String, { nullable: true })
  firstBrokenId: string | null;
}
