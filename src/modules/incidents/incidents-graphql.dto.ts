import { ArgsType, Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { ArrayMaxSize, IsArray, IsIn, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { PageArgs } from '../../common/graphql-page';
import { IsIsoDateTime } from '../../common/validation';
import { INCIDENT_SEVERITIES } from '../../config/incidents.schema';
import { GraphQLJSON } from '../../graphql/json.scalar';
import { INCIDENT_ID } from './incidents.dto';

const STATUSES = ['triggered', 'acknowledged', 'resolved'] as const;
const ID_MESSAGE = 'must be an incident id, for example INC-20261207-001';
const SEVERITY_MESSAGE = 'must be P1, P2, P3 or P4';
const COMPONENT = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
const PROCEDURE_ID = /^[a-z0-9][a-z0-9.-]{0,63}$/;
/** A position in an incident's stream: an incident_events id. */
export const EVENT_POSITION = /^\d{1,18}$/;
export const EVENT_POSITION_MESSAGE = 'must be the id of an incident event (digits), as sent in the stream';

// --- Arguments (validated by the global pipe: every problem named by field) ---------------

@ArgsType()
export class IncidentsArgs extends PageArgs {
  @Field(() => [String], { nullable: true, description: 'triggered | acknowledged | resolved (any of them)' })
  @IsOptional()
  @IsArray({ message: 'must be a list of statuses' })
  @ArrayMaxSize(3, { message: 'must be at most 3 statuses' })
  @IsIn(STATUSES, { each: true, message: 'each must be triggered, acknowledged or resolved' })
  status?: string[];

  @Field(() => [String], { nullable: true, description: 'P1 | P2 | P3 | P4 (any of them)' })
  @IsOptional()
  @IsArray({ message: 'must be a list of severities' })
  @ArrayMaxSize(4, { message: 'must be at most 4 severities' })
  @IsIn(INCIDENT_SEVERITIES, { each: true, message: 'each must be P1, P2, P3 or P4' })
  severity?: string[];

  @Field(() => String, { nullable: true, description: 'The component (service) label, e.g. api, database' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  component?: string;

  @Field(() => String, { nullable: true, description: 'Assigned to this username' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  assignee?: string;

  @Field(() => String, { nullable: true, description: 'Opened at or after (ISO 8601)' })
  @IsOptional()
  @IsIsoDateTime({ message: 'must be an ISO 8601 time, for example 2026-12-07T00:00:00Z' })
  from?: string;

  @Field(() => String, { nullable: true, description: 'Opened before (ISO 8601)' })
  @IsOptional()
  @IsIsoDateTime({ message: 'must be an ISO 8601 time, for example 2026-12-08T00:00:00Z' })
  to?: string;
}

@ArgsType()
export class IncidentIdArgs {
  @Field(() => String, { description: 'e.g. INC-20261207-001' })
  @IsString({ message: 'must be a string' })
  @Matches(INCIDENT_ID, { message: ID_MESSAGE })
  id: string;
}

@ArgsType()
export class IncidentTextArgs extends IncidentIdArgs {
  @Field(() => String, { description: 'At most 10000 characters' })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(10000, { message: 'must be at most 10000 characters' })
  text: string;
}

@ArgsType()
export class IncidentNoteArgs extends IncidentIdArgs {
  @Field(() => String, { nullable: true, description: 'Why (into the timeline); at most 10000 characters' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(10000, { message: 'must be at most 10000 characters' })
  note?: string;
}

@ArgsType()
export class AssignIncidentArgs extends IncidentIdArgs {
  @Field(() => String, { description: 'Username of whoever takes it' })
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  assignee: string;
}

@ArgsType()
export class IncidentEventsArgs extends IncidentIdArgs {
  @Field(() => String, {
    nullable: true,
    description: 'Only events after this one (the id of the last event received); default: the whole timeline',
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(EVENT_POSITION, { message: EVENT_POSITION_MESSAGE })
  after?: string;
}

@InputType('CreateIncidentInput')
export class CreateIncidentInput {
  @Field(() => String)
  @IsString({ message: 'must be a string' })
  @IsNotEmpty({ message: 'must not be empty' })
  @MaxLength(500, { message: 'must be at most 500 characters' })
  title: string;

  @Field(() => String, { description: 'P1 | P2 | P3 | P4' })
  @IsIn(INCIDENT_SEVERITIES, { message: SEVERITY_MESSAGE })
  severity: 'P1' | 'P2' | 'P3' | 'P4';

  @Field(() => String, { nullable: true, description: 'e.g. api, database' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(COMPONENT, { message: 'must be a component name (lower case letters, digits, - _ .), for example api' })
  component?: string;

  @Field(() => String, { nullable: true, description: 'Username of whoever takes it' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @MaxLength(128, { message: 'must be at most 128 characters' })
  assignee?: string;

  @Field(() => String, { nullable: true, description: 'The procedure suggested for it (its dry-run plan is computed at once)' })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(PROCEDURE_ID, { message: 'must be a procedure id, for example backend.crash-loop' })
  procedureId?: string;

  @Field(() => String, {
    nullable: true,
    description: "The escalation table's situation it is opened for (a row id at the incident's level), e.g. single-user",
  })
  @IsOptional()
  @IsString({ message: 'must be a string' })
  @Matches(/^[a-z0-9][a-z0-9-]{0,39}$/, { message: 'must be a situation id of the escalation table, for example single-user' })
  situation?: string;
}

// --- Results (the REST models' shapes) -------------------------------------------------------

@ObjectType('IncidentEscalation')
export class IncidentEscalationModel {
  @Field(() => Int, { description: 'Round of the chain, from 0' }) round: number;
  @Field(() => Int, { description: 'Step of the chain, from 0' }) step: number;
  @Field() level: string;
  @Field(() => Date, { nullable: true }) nextAt: Date | null;
  @Field(() => Int) escalations: number;
}

@ObjectType('Incident')
export class IncidentGqlModel {
  @Field() id: string;
  @Field() title: string;
  @Field({ description: 'P1 | P2 | P3 | P4' }) severity: string;
  @Field(() => String, { nullable: true }) component: string | null;
  @Field({ description: 'triggered | acknowledged | resolved' }) status: string;
  @Field({ description: 'alert | manual' }) source: string;
  @Field(() => String, { nullable: true }) assignee: string | null;
  @Field() createdBy: string;
  @Field() createdAt: Date;
  @Field(() => Date, { nullable: true }) acknowledgedAt: Date | null;
  @Field(() => String, { nullable: true }) acknowledgedBy: string | null;
  @Field(() => Date, { nullable: true }) resolvedAt: Date | null;
  @Field(() => String, { nullable: true }) resolvedBy: string | null;
  @Field(() => Date, { nullable: true, description: 'When it resolves itself (all its alerts resolved)' }) resolveAt: Date | null;
  @Field(() => IncidentEscalationModel) escalation: IncidentEscalationModel;
  @Field(() => Date, { nullable: true }) nextStatusUpdateAt: Date | null;
  @Field(() => Date, { nullable: true }) reportDueAt: Date | null;
  @Field(() => Date, { nullable: true }) reportSubmittedAt: Date | null;
  @Field(() => String, { nullable: true }) suggestedProcedure: string | null;
  @Field(() => String, { nullable: true, description: "The escalation table's situation it was opened for" }) situation: string | null;
  @Field(() => GraphQLJSON, { nullable: true, description: "The suggested procedure's dry-run plan" }) plan: Record<string, unknown> | null;
  @Field(() => GraphQLJSON, { description: 'The escalation policy as it was when it opened' }) policy: Record<string, unknown>;
}

@ObjectType('IncidentEvent')
export class IncidentEventGqlModel {
  @Field({ description: 'Its id in the timeline (pass it as `after` to resume a subscription)' }) id: string;
  @Field() incidentId: string;
  @Field() at: Date;
  @Field({ description: 'opened, note, status_update, acknowledged, escalated, nobody_on_call, notification_sent, resolved, …' })
  type: string;
  @Field(() => String, { nullable: true }) actor: string | null;
  @Field() message: string;
  @Field(() => GraphQLJSON) data: Record<string, unknown>;
}

@ObjectType('IncidentDetail')
export class IncidentDetailGqlModel extends IncidentGqlModel {
  @Field(() => [String]) groupKeys: string[];
  @Field(() => [GraphQLJSON]) alerts: Record<string, unknown>[];
  @Field(() => [GraphQLJSON]) runs: Record<string, unknown>[];
  @Field(() => [GraphQLJSON], { description: 'Pages: one person, one channel' }) notifications: Record<string, unknown>[];
  @Field(() => [IncidentEventGqlModel]) timeline: IncidentEventGqlModel[];
  @Field(() => String, { nullable: true }) report: string | null;
}

@ObjectType('OnCall')
export class OnCallGqlModel {
  @Field() at: Date;
  @Field() timezone: string;
  @Field(() => [GraphQLJSON], { description: 'Per level: who is on call now and next' }) levels: Record<string, unknown>[];
  @Field(() => [String], {
    description:
      'What is wrong with the on-call set-up (also warned at start): contacts nobody can reach, the hours of every week and the dated periods ahead when a level has nobody on call, in the inventory time zone',
  })
  problems: string[];
}
