import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { GraphQLJSON } from '../graphql/json.scalar';
import { PageArgs } from '../common/graphql-page';
import { PageQuery } from '../common/pagination';
import { IsIsoDateTime } from '../common/validation';

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
  @ApiProperty({ nullable: true, type: String, description: 'The API token the person acted through (token:<name>)' })
  @Field(() => String, { nullable: true })
  actorVia: string | null;
  @ApiProperty() @Field() action: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) target: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) @Field(() => GraphQLJSON) parameters: Record<string, unknown>;
  @ApiProperty({ enum: OUTCOMES }) @Field() outcome: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) errorCode: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) requestId: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) clientAddress: string | null;
  @ApiProperty() @Field() prevHash: string;
  @ApiProperty() @Field() hash: string;
  @ApiProperty({ description: '1: SHA-256 (before keyed chaining); 2: HMAC-SHA256 with a key kept outside the database' })
  @Field(() => Int)
  chainVersion: number;
}

export class AuditPage {
  @ApiProperty({ type: [AuditEntryModel] }) items: AuditEntryModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

@ObjectType('AuditIdRange')
export class AuditIdRangeModel {
  @ApiProperty() @Field() fromId: string;
  @ApiProperty() @Field() toId: string;
}

@ObjectType('AuditAnchorMismatch')
export class AuditAnchorMismatchModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() anchoredAt: string;
  @ApiProperty({ enum: ['rewritten', 'missing'] }) @Field() problem: string;
}

@ObjectType('AuditTruncation')
export class AuditTruncationModel {
  @ApiProperty({ nullable: true, type: String, description: 'The last entry still in the chain' })
  @Field(() => String, { nullable: true })
  lastEntryId: string | null;
  @ApiProperty({ description: 'An entry beyond it that was anchored' }) @Field() anchoredEntryId: string;
  @ApiProperty() @Field() anchoredAt: string;
}

@ObjectType('AuditAnchors')
export class AuditAnchorsModel {
  @ApiProperty({ description: 'The anchor file (outside the database)' }) @Field() file: string;
  @ApiProperty() @Field(() => Int) count: number;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) latestEntryId: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) latestAt: string | null;
}

@ObjectType('AuditVerification')
export class AuditVerificationModel {
  @ApiProperty({ description: 'Every hash and link matches and every anchor is found unchanged' }) @Field() valid: boolean;
  @ApiProperty({ description: 'Entries checked' }) @Field(() => Int) checked: number;
  @ApiProperty({ nullable: true, type: String, description: 'First entry whose hash or link does not match' })
  @Field(() => String, { nullable: true })
  firstBrokenId: string | null;
  @ApiProperty({
    type: [AuditIdRangeModel],
    description: 'Runs of entries whose hash or link does not match (rewritten, or following removed entries)',
  })
  @Field(() => [AuditIdRangeModel])
  brokenRanges: AuditIdRangeModel[];
  @ApiProperty({ type: [AuditAnchorMismatchModel], description: 'Anchored entries rewritten or removed' })
  @Field(() => [AuditAnchorMismatchModel])
  anchorMismatches: AuditAnchorMismatchModel[];
  @ApiProperty({
    nullable: true,
    type: AuditTruncationModel,
    description: 'The newest entries were removed (the chain ends before an anchored entry)',
  })
  @Field(() => AuditTruncationModel, { nullable: true })
  truncated: AuditTruncationModel | null;
  @ApiProperty({ type: AuditAnchorsModel }) @Field(() => AuditAnchorsModel) anchors: AuditAnchorsModel;
  @ApiProperty({ description: 'Public fingerprint of the master key the chain is verified with' }) @Field() keyId: string;
  @ApiProperty({ type: [String], description: 'Each finding as a sentence' }) @Field(() => [String]) problems: string[];
}
