import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageArgs } from '../../common/graphql-page';
import { PageQuery } from '../../common/pagination';
import { GraphQLJSON } from '../../graphql/json.scalar';

const bool = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);
const list = ({ value }: { value: unknown }) => (value === undefined || Array.isArray(value) ? value : [value]);

/** One matcher in Alertmanager's filter syntax: name, operator, double-quoted value. */
export const FILTER_MATCHER = /^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"(?:[^"\\]|\\.)*"$/;
const FILTER_MESSAGE = 'each must be a matcher like alertname="HighCPUUsage" (operators = != =~ !~, the value in double quotes)';
const NOTIFICATION_STATUSES = ['firing', 'resolved'] as const;

export class AlertsQuery {
  @ApiPropertyOptional({ description: 'Include expired silences', default: false })
  @IsOptional()
  @Transform(bool)
  @IsBoolean({ message: 'must be true or false' })
  expired?: boolean;

  @ApiPropertyOptional({
    type: [String],
    description: 'Alert matchers (repeat the parameter; all must match), e.g. alertname="HighCPUUsage", component=~"api|database"',
  })
  @IsOptional()
  @Transform(list)
  @IsArray({ message: 'must be one or more matchers' })
  @ArrayMaxSize(20, { message: 'must be at most 20 matchers' })
  @IsString({ each: true, message: FILTER_MESSAGE })
  @MaxLength(1024, { each: true, message: 'each must be at most 1024 characters' })
  @Matches(FILTER_MATCHER, { each: true, message: FILTER_MESSAGE })
  filter?: string[];
}

@ArgsType()
export class AlertsArgs {
  @Field(() => Boolean, { nullable: true, description: 'Include expired silences' })
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  expired?: boolean;

  @Field(() => [String], { nullable: true, description: 'Alert matchers (all must match), e.g. alertname="HighCPUUsage"' })
  @IsOptional()
  @IsArray({ message: 'must be a list of matchers' })
  @ArrayMaxSize(20, { message: 'must be at most 20 matchers' })
  @IsString({ each: true, message: FILTER_MESSAGE })
  @MaxLength(1024, { each: true, message: 'each must be at most 1024 characters' })
  @Matches(FILTER_MATCHER, { each: true, message: FILTER_MESSAGE })
  filter?: string[];
}

export class NotificationsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: NOTIFICATION_STATUSES })
  @IsOptional()
  @IsIn(NOTIFICATION_STATUSES, { message: 'must be firing or resolved' })
  status?: 'firing' | 'resolved';

  @ApiPropertyOptional({ description: 'Only notifications holding an alert of this name' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(200, { message: 'must be at most 200 characters' })
  alertname?: string;
}

@ArgsType()
export class NotificationsArgs extends PageArgs {
  @Field(() => String, { nullable: true, description: 'firing | resolved' })
  @IsOptional()
  @IsIn(NOTIFICATION_STATUSES, { message: 'must be firing or resolved' })
  status?: 'firing' | 'resolved';

  @Field(() => String, { nullable: true })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(200, { message: 'must be at most 200 characters' })
  alertname?: string;
}

@ObjectType('FiringAlert')
export class FiringAlertModel {
  @ApiProperty() @Field() fingerprint: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) alertname: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) @Field(() => GraphQLJSON) labels: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) @Field(() => GraphQLJSON) annotations: Record<string, string>;
  @ApiProperty({ enum: ['active', 'suppressed', 'unprocessed'], description: 'suppressed: silenced or inhibited' }) @Field() state: string;
  @ApiProperty({ type: [String], description: 'Ids of the silences muting it' }) @Field(() => [String]) silencedBy: string[];
  @ApiProperty({ type: [String] }) @Field(() => [String]) inhibitedBy: string[];
  @ApiProperty() @Field() startsAt: string;
  @ApiProperty() @Field() endsAt: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) generatorURL: string | null;
  @ApiProperty({ type: [String] }) @Field(() => [String]) receivers: string[];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'The procedure that addresses it (POST /api/v1/procedures/{id}/runs)',
    example: 'alerts.storm',
  })
  @Field(() => String, { nullable: true, description: 'The procedure that addresses it' })
  remediation: string | null;
}

@ObjectType('AlertGroup')
export class AlertGroupModel {
  @ApiProperty({ description: 'The alertname ("" for alerts without one)' }) @Field() alertname: string;
  @ApiProperty() @Field(() => Int) count: number;
  @ApiProperty() @Field(() => Int) active: number;
  @ApiProperty() @Field(() => Int) suppressed: number;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) remediation: string | null;
  @ApiProperty({ type: [FiringAlertModel] }) @Field(() => [FiringAlertModel]) alerts: FiringAlertModel[];
}

@ObjectType('SilenceMatcher')
export class SilenceMatcherModel {
  @ApiProperty() @Field() name: string;
  @ApiProperty() @Field() value: string;
  @ApiProperty() @Field() isRegex: boolean;
  @ApiProperty() @Field() isEqual: boolean;
}

@ObjectType('Silence')
export class SilenceModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty({ enum: ['active', 'pending', 'expired'] }) @Field() state: string;
  @ApiProperty({ type: [SilenceMatcherModel] }) @Field(() => [SilenceMatcherModel]) matchers: SilenceMatcherModel[];
  @ApiProperty({ description: "The matchers in Alertmanager's syntax", example: 'alertname="HighCPUUsage"' }) @Field() matchersText: string;
  @ApiProperty() @Field() startsAt: string;
  @ApiProperty() @Field() endsAt: string;
  @ApiProperty() @Field() createdBy: string;
  @ApiProperty() @Field() comment: string;
  @ApiProperty({ description: 'Created by a run of this control plane (alerts.storm)' }) @Field() createdByControlPlane: boolean;
  @ApiProperty({ nullable: true, type: String, description: 'The alerts.storm run that created it' })
  @Field(() => String, { nullable: true })
  runId: string | null;
}

@ObjectType('AlertsOverview')
export class AlertsOverviewModel {
  @ApiProperty({ description: "Alertmanager's URL (credentials masked)" }) @Field() alertmanager: string;
  @ApiProperty({ description: 'Alerts Alertmanager holds (active, suppressed, unprocessed)' }) @Field(() => Int) firing: number;
  @ApiProperty() @Field(() => Int) active: number;
  @ApiProperty() @Field(() => Int) suppressed: number;
  @ApiProperty({ type: [AlertGroupModel], description: 'By alertname, largest first' })
  @Field(() => [AlertGroupModel])
  groups: AlertGroupModel[];
  @ApiProperty({ type: [SilenceModel], description: 'Active and pending silences (expired too with ?expired=true)' })
  @Field(() => [SilenceModel])
  silences: SilenceModel[];
}

@ObjectType('NotifiedAlert')
export class NotifiedAlertModel {
  @ApiProperty() @Field() fingerprint: string;
  @ApiProperty({ enum: NOTIFICATION_STATUSES }) @Field() status: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) alertname: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) @Field(() => GraphQLJSON) labels: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) @Field(() => GraphQLJSON) annotations: Record<string, string>;
  @ApiProperty() @Field() startsAt: string;
  @ApiProperty({ description: '0001-01-01T00:00:00Z while firing' }) @Field() endsAt: string;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) generatorURL: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The procedure that addresses it' })
  @Field(() => String, { nullable: true })
  remediation: string | null;
}

@ObjectType('AlertNotification')
export class AlertNotificationModel {
  @ApiProperty() @Field() id: string;
  @ApiProperty() @Field() receivedAt: Date;
  @ApiProperty({ description: 'The API token (or user) that delivered it' }) @Field() receivedBy: string;
  @ApiProperty({ enum: NOTIFICATION_STATUSES }) @Field() status: string;
  @ApiProperty() @Field() receiver: string;
  @ApiProperty() @Field() groupKey: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) @Field(() => GraphQLJSON) groupLabels: Record<string, string>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) @Field(() => GraphQLJSON) commonLabels: Record<string, string>;
  @ApiProperty({ nullable: true, type: String }) @Field(() => String, { nullable: true }) externalURL: string | null;
  @ApiProperty({ description: 'Alerts Alertmanager left out (max_alerts)' }) @Field(() => Int) truncatedAlerts: number;
  @ApiProperty() @Field(() => Int) alertCount: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Alerts per alertname' })
  @Field(() => GraphQLJSON)
  alertNames: Record<string, number>;
  @ApiProperty({ type: [NotifiedAlertModel] }) @Field(() => [NotifiedAlertModel]) alerts: NotifiedAlertModel[];
}

export class AlertNotificationPage {
  @ApiProperty({ type: [AlertNotificationModel] }) items: AlertNotificationModel[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class WebhookIncidents {
  @ApiProperty({ type: [String], description: 'Incidents opened by this delivery' }) opened: string[];
  @ApiProperty({ type: [String], description: 'Incidents it added alerts to, resolved alerts of, or reopened' }) updated: string[];
}

export class WebhookReceipt {
  @ApiProperty({ description: 'false: the same notification was already stored (Alertmanager retried or repeated it)' }) stored: boolean;
  @ApiProperty({ description: 'The stored notification' }) id: string;
  @ApiPropertyOptional({ type: () => WebhookIncidents, description: 'What this delivery did to incidents (new deliveries only)' })
  incidents?: WebhookIncidents;
}
