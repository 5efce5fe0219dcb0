import { ArgsType, Field, Float, InputType, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { PageArgs } from '../../common/graphql-page';
import { PageQuery } from '../../common/pagination';
import { GraphQLJSON } from '../../graphql/json.scalar';
import { RunModel } from '../../procedures/procedures.dto';
import { KEEP_LAST_MESSAGE, MAX_KEEP_LAST, MAX_RETENTION_DAYS, RETENTION_DAYS_MESSAGE } from './backup.parameters';

const bool = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

@ObjectType('Backup')
export class BackupModel {
  @ApiProperty({ nullable: true, type: String, description: 'Catalog id (null for a file the catalog does not know)' })
  @Field(() => String, { nullable: true })
  id: string | null;
  @ApiProperty() @Field() fileName: string;
  @ApiProperty({ description: 'In the catalog (false: a file found on disk only)' }) @Field() known: boolean;
  @ApiProperty({ nullable: true, enum: ['manual', 'scheduled', 'safety'] }) @Field(() => String, { nullable: true }) kind: string | null;
  @ApiProperty() @Field() createdAt: string;
  @ApiProperty() @Field(() => Int) ageSeconds: number;
  @ApiProperty() @Field(() => Float) sizeBytes: number;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) sha256: string | null;
  @ApiProperty({ description: 'unverified | verified | failed | deleted | unknown: …' }) @Field() verifyStatus: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) verifiedAt: string | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) verifyError: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Measured restore time of the last drill' })
  @Field(() => Int, { nullable: true })
  drillDurationMs: number | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) databaseName: string | null;
  @ApiProperty({ nullable: true, type: Number }) @Field(() => Float, { nullable: true }) databaseSizeBytes: number | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) serverVersion: string | null;
  @ApiProperty({ nullable: true, type: Number }) @Field(() => Int, { nullable: true }) durationMs: number | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) dumpVia: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: { type: 'number' }, description: 'Rows per table at dump time' })
  @Field(() => GraphQLJSON, { nullable: true })
  rowCounts: Record<string, number> | null;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) runId: string | null;
  @ApiProperty({ description: 'The catalog knows it but the file is gone' }) @Field() fileMissing: boolean;
}

@ObjectType('BackupCatalog')
export class BackupListModel {
  @ApiProperty({ type: [BackupModel] }) @Field(() => [BackupModel]) items: BackupModel[];
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) nextCursor: string | null;
  @ApiProperty({
    type: [BackupModel],
    description: 'Files in the backup directory the catalog does not know (first page only); never deleted by retention',
  })
  @Field(() => [BackupModel])
  unknownFiles: BackupModel[];
}

@ObjectType('BackupRun')
export class BackupRunModel {
  @ApiProperty({ type: RunModel }) @Field(() => RunModel) run: RunModel;
  @ApiPropertyOptional({ type: BackupModel, nullable: true, description: 'The backup the run made or acted on, once it ended' })
  @Field(() => BackupModel, { nullable: true })
  backup?: BackupModel | null;
}

export class BackupListQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'Include deleted entries', default: false })
  @IsOptional()
  @Transform(bool)
  @IsBoolean({ message: 'must be true or false' })
  includeDeleted?: boolean;
}

@ArgsType()
export class BackupListArgs extends PageArgs {
  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  includeDeleted?: boolean;
}

export class WaitQuery {
  @ApiPropertyOptional({ description: 'Answer when the run ended (or after waitSeconds)', default: false })
  @IsOptional()
  @Transform(bool)
  @IsBoolean({ message: 'must be true or false' })
  wait?: boolean;

  @ApiPropertyOptional({ description: 'Longest wait, seconds', default: 900, minimum: 1, maximum: 3600 })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1, { message: 'must be at least 1' })
  @Max(3600, { message: 'must be at most 3600' })
  waitSeconds?: number;
}

export class DeleteQuery extends WaitQuery {
  @ApiPropertyOptional({ description: 'Plan only', default: false })
  @IsOptional()
  @Transform(bool)
  @IsBoolean({ message: 'must be true or false' })
  dryRun?: boolean;
}

@InputType('BackupActionInput')
export class BackupActionDto {
  @ApiPropertyOptional({ description: 'Plan only: nothing changes', default: false })
  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  dryRun?: boolean;
}

@InputType('BackupRestoreInput')
export class RestoreDto extends BackupActionDto {
  @ApiPropertyOptional({ description: "The ERP database's name, typed out (required for a real restore)" })
  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(200)
  confirm?: string;

  @ApiPropertyOptional({ description: 'Admins only: restore a backup that is not verified', default: false })
  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  force?: boolean;
}

@InputType('BackupRetentionInput')
export class RetentionDto extends BackupActionDto {
  @ApiPropertyOptional({ enum: ['window', 'disk-pressure'], default: 'window' })
  @Field(() => String, { nullable: true, description: 'window | disk-pressure' })
  @IsOptional()
  @IsIn(['window', 'disk-pressure'], { message: 'must be window or disk-pressure' })
  mode?: 'window' | 'disk-pressure';

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_RETENTION_DAYS, description: "Default: the inventory's backups.retentionDays" })
  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt({ message: RETENTION_DAYS_MESSAGE })
  @Min(1, { message: RETENTION_DAYS_MESSAGE })
  @Max(MAX_RETENTION_DAYS, { message: RETENTION_DAYS_MESSAGE })
  retentionDays?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_KEEP_LAST,
    description: "disk-pressure: default the inventory's backups.keepLastOnCleanup",
  })
  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt({ message: KEEP_LAST_MESSAGE })
  @Min(1, { message: KEEP_LAST_MESSAGE })
  @Max(MAX_KEEP_LAST, { message: KEEP_LAST_MESSAGE })
  keepLast?: number;
}
