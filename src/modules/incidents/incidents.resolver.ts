import { Args, Mutation, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { GraphQLError } from 'graphql';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { DomainError, GRAPHQL_CODE } from '../../common/errors';
import { PageOf } from '../../common/graphql-page';
import { Identity, OpsRequest } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { IncidentEventFeed, IncidentEventView, IncidentStreamEvent, IncidentEventStreams, toEventView } from './incident-events';
import { EventRow, IncidentRow } from './incident-store';
import { toDetail, toModel } from './incident-views';
import {
  AssignIncidentArgs,
  CreateIncidentInput,
  IncidentDetailGqlModel,
  IncidentEventGqlModel,
  IncidentEventsArgs,
  IncidentGqlModel,
  IncidentIdArgs,
  IncidentNoteArgs,
  IncidentsArgs,
  IncidentTextArgs,
  OnCallGqlModel,
} from './incidents-graphql.dto';
import { IncidentsService } from './incidents.service';

@ObjectType('IncidentPage')
class IncidentPageModel extends PageOf(IncidentGqlModel, 'IncidentPageBase') {}

/** Over HTTP a subscription has no event to resolve: say where it is served instead of a null error. */
function eventOrRefusal(event?: IncidentStreamEvent): IncidentEventView {
  if (event) return event.data;
  const error = DomainError.validation([
    {
      field: 'incidentEvents',
      problem: 'is a subscription: use graphql-ws (WebSocket, subprotocol graphql-transport-ws) at /graphql, not an HTTP request',
    },
  ]);
  throw new GraphQLError(error.message, { extensions: { code: GRAPHQL_CODE[error.code], errorCode: error.code, status: error.status } });
}

/**
 * GraphQL face of incidents: the same service, rights (a Pn incident needs the right to act
 * at Pn; the 403 names whom to call), audit and errors as REST.
 */
@Resolver()
export class IncidentsResolver {
  constructor(
    private readonly service: IncidentsService,
    private readonly streams: IncidentEventStreams,
  ) {}

  @Query(() => IncidentPageModel, { description: 'Incidents, newest first (filters: status, severity, component, assignee, from, to)' })
  @RequireRight('incidents.read')
  async incidents(@Args() args: IncidentsArgs) {
    const page = await this.service.list({
      ...args,
      from: args.from === undefined ? undefined : new Date(args.from),
      to: args.to === undefined ? undefined : new Date(args.to),
    });
    return { items: page.items.map(toModel), nextCursor: page.nextCursor };
  }

  @Query(() => IncidentDetailGqlModel, { description: 'One incident with its alerts, alert groups, runs, notifications and timeline' })
  @RequireRight('incidents.read')
  async incident(@Args() { id }: IncidentIdArgs) {
    const detail = await toDetail(this.service, id);
    return { ...detail, timeline: (detail.timeline as unknown as EventRow[]).map(toEventView) };
  }

  @Query(() => OnCallGqlModel, { description: 'Who is on call now and next, per level, and what is wrong with the on-call set-up' })
  @RequireRight('incidents.read')
  oncall() {
    return this.service.oncall();
  }

  @Mutation(() => IncidentGqlModel, {
    description: 'Open an incident by hand; its chain pages at once (a Pn incident needs the right to act at Pn)',
  })
  @RequireRight('incidents.respond', { action: 'incidents.create' })
  async createIncident(
    @Args('input', { type: () => CreateIncidentInput }) input: CreateIncidentInput,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    const incident = await this.service.create(input, identity);
    req.auditTarget = `incident:${incident.id}`;
    return toModel(incident);
  }

  @Mutation(() => IncidentGqlModel, { description: 'Acknowledge: the chain stops and pending notifications are cancelled' })
  @RequireRight('incidents.respond', { action: 'incidents.acknowledge' })
  acknowledgeIncident(@Args() { id }: IncidentIdArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.acknowledge(id, identity));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Resolve (P1/P2: the incident report is then due within 24 h)' })
  @RequireRight('incidents.respond', { action: 'incidents.resolve' })
  resolveIncident(@Args() { id, note }: IncidentNoteArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.resolve(id, identity, note));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Reopen a resolved incident: triggered again, its chain from the start' })
  @RequireRight('incidents.respond', { action: 'incidents.reopen' })
  reopenIncident(@Args() { id, note }: IncidentNoteArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.reopen(id, identity, note));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Add a note to the timeline' })
  @RequireRight('incidents.respond', { action: 'incidents.note' })
  addIncidentNote(@Args() { id, text }: IncidentTextArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.note(id, identity, text));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Post a status update (P1 every 5 min, P2 every 10 min)' })
  @RequireRight('incidents.respond', { action: 'incidents.status-update' })
  postIncidentStatusUpdate(
    @Args() { id, text }: IncidentTextArgs,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    return this.act(req, id, () => this.service.statusUpdate(id, identity, text));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Escalate now to the next step of the chain (a triggered incident; never a P4)' })
  @RequireRight('incidents.respond', { action: 'incidents.escalate' })
  escalateIncident(@Args() { id }: IncidentIdArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.escalate(id, identity));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Assign to a person (username)' })
  @RequireRight('incidents.respond', { action: 'incidents.assign' })
  assignIncident(@Args() { id, assignee }: AssignIncidentArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.assign(id, identity, assignee));
  }

  @Mutation(() => IncidentGqlModel, { description: 'Submit the incident report (post-mortem) of a resolved incident' })
  @RequireRight('incidents.respond', { action: 'incidents.report' })
  submitIncidentReport(@Args() { id, text }: IncidentTextArgs, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    return this.act(req, id, () => this.service.submitReport(id, identity, text));
  }

  @Subscription(() => IncidentEventGqlModel, {
    description: "The incident's timeline (as the SSE stream): every event so far (or after `after`), then each one as it is written",
    resolve: eventOrRefusal,
  })
  @RequireRight('incidents.read')
  incidentEvents(@Args() { id, after }: IncidentEventsArgs): Promise<IncidentEventFeed> {
    return this.streams.feed(id, after);
  }

  private async act(req: OpsRequest, id: string, change: () => Promise<IncidentRow>) {
    req.auditTarget = `incident:${id}`;
    return toModel(await change());
  }
}
