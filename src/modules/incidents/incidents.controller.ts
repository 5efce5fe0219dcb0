import { Body, Controller, Get, Header, HttpCode, Param, PipeTransform, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { DomainError } from '../../common/errors';
import { Identity, OpsRequest } from '../../common/request-context';
import { Public, RequireRight } from '../../guards/right.decorator';
import { RunnerService } from '../../procedures/runner.service';
import {
  AssignDto,
  CreateIncidentDto,
  INCIDENT_ID,
  IncidentDetailModel,
  IncidentModel,
  IncidentPage,
  IncidentRunDto,
  IncidentsQuery,
  OnCallModel,
  ResolveDto,
  TextDto,
} from './incidents.dto';
import { IncidentsService } from './incidents.service';
import { toDetail, toModel } from './incident-views';

export class IncidentIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || !INCIDENT_ID.test(value))
      throw DomainError.validation([{ field: 'id', problem: 'must be an incident id, for example INC-20261207-001' }]);
    return value;
  }
}
const ID = new IncidentIdPipe();

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

@ApiTags('incidents')
@Controller('api/v1')
export class IncidentsController {
  constructor(
    private readonly incidents: IncidentsService,
    private readonly runner: RunnerService,
  ) {}

  @Get('incidents')
  @RequireRight('incidents.read')
  @ApiOperation({ summary: 'Incidents, newest first (filters: status, severity, component, assignee, from, to; cursor pages)' })
  @ApiOkResponse({ type: IncidentPage })
  async list(@Query() query: IncidentsQuery): Promise<IncidentPage> {
    const page = await this.incidents.list(query);
    return { items: page.items.map(toModel), nextCursor: page.nextCursor };
  }

  @Post('incidents')
  @HttpCode(201)
  @RequireRight('incidents.respond', { action: 'incidents.create' })
  @ApiOperation({ summary: 'Open an incident by hand; its chain pages at once (a Pn incident needs the right to act at Pn)' })
  @ApiOkResponse({ type: IncidentModel })
  async create(
    @Body() body: CreateIncidentDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ): Promise<IncidentModel> {
    const incident = await this.incidents.create(body, identity);
    req.auditTarget = `incident:${incident.id}`;
    return toModel(incident);
  }

  @Get('incidents/:id')
  @RequireRight('incidents.read')
  @ApiOperation({ summary: 'One incident with its alerts, alert groups, runs, notifications and timeline' })
  @ApiOkResponse({ type: IncidentDetailModel })
  async get(@Param('id', ID) id: string): Promise<IncidentDetailModel> {
    return toDetail(this.incidents, id);
  }

  @Post('incidents/:id/acknowledge')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.acknowledge' })
  @ApiOperation({ summary: 'Acknowledge: the chain stops and pending notifications are cancelled (409 unless triggered)' })
  @ApiOkResponse({ type: IncidentModel })
  async acknowledge(@Param('id', ID) id: string, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.acknowledge(id, identity));
  }

  @Post('incidents/:id/resolve')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.resolve' })
  @ApiOperation({ summary: 'Resolve (P1/P2: the incident report is then due within 24 h)' })
  @ApiOkResponse({ type: IncidentModel })
  async resolve(
    @Param('id', ID) id: string,
    @Body() body: ResolveDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.resolve(id, identity, body.note));
  }

  @Post('incidents/:id/reopen')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.reopen' })
  @ApiOperation({ summary: 'Reopen a resolved incident: triggered again, its chain from the start' })
  @ApiOkResponse({ type: IncidentModel })
  async reopen(
    @Param('id', ID) id: string,
    @Body() body: ResolveDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.reopen(id, identity, body.note));
  }

  @Post('incidents/:id/notes')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.note' })
  @ApiOperation({ summary: 'Add a note to the timeline' })
  @ApiOkResponse({ type: IncidentModel })
  async note(@Param('id', ID) id: string, @Body() body: TextDto, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.note(id, identity, body.text));
  }

  @Post('incidents/:id/status-updates')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.status-update' })
  @ApiOperation({ summary: 'Post a status update (P1 every 5 min, P2 every 10 min; a reminder goes out when one is late)' })
  @ApiOkResponse({ type: IncidentModel })
  async statusUpdate(
    @Param('id', ID) id: string,
    @Body() body: TextDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.statusUpdate(id, identity, body.text));
  }

  @Post('incidents/:id/escalate')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.escalate' })
  @ApiOperation({ summary: 'Escalate now to the next step of the chain (a triggered incident; never a P4)' })
  @ApiOkResponse({ type: IncidentModel })
  async escalate(@Param('id', ID) id: string, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.escalate(id, identity));
  }

  @Post('incidents/:id/assign')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.assign' })
  @ApiOperation({ summary: 'Assign to a person (username)' })
  @ApiOkResponse({ type: IncidentModel })
  async assign(
    @Param('id', ID) id: string,
    @Body() body: AssignDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.assign(id, identity, body.assignee));
  }

  @Post('incidents/:id/report')
  @HttpCode(200)
  @RequireRight('incidents.respond', { action: 'incidents.report' })
  @ApiOperation({ summary: 'Submit the incident report (post-mortem) of a resolved incident' })
  @ApiOkResponse({ type: IncidentModel })
  async report(
    @Param('id', ID) id: string,
    @Body() body: TextDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    req.auditTarget = `incident:${id}`;
    return toModel(await this.incidents.submitReport(id, identity, body.text));
  }

  @Post('incidents/:id/runs')
  @HttpCode(202)
  @RequireRight('procedures.run', { action: 'incidents.run' })
  @ApiOperation({
    summary:
      "Request a procedure run from the incident (default: its suggested procedure); the runner's rights, confirmation, approval and locks apply; the run's request and end go into the timeline",
  })
  async run(
    @Param('id', ID) id: string,
    @Body() body: IncidentRunDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ) {
    // A refusal is audited against the incident; a requested run, against the run.
    req.auditTarget = `incident:${id}`;
    const incident = await this.incidents.get(id);
    const procedureId = body.procedureId ?? incident.suggested_procedure;
    if (!procedureId)
      throw DomainError.validation([
        { field: 'procedureId', problem: 'this incident suggests no procedure: name one, for example backend.crash-loop' },
      ]);
    const run = await this.runner.request(
      procedureId,
      { parameters: body.parameters, dryRun: body.dryRun, confirm: body.confirm },
      identity,
    );
    await this.incidents.linkRun(id, { id: run.id, procedureId, status: run.status, dryRun: run.dryRun }, identity);
    req.auditTarget = `run:${run.id}`;
    return { incident: id, run: { id: run.id, procedureId, status: run.status, dryRun: run.dryRun } };
  }

  @Get('incidents/ack/:token')
  @Public()
  @Header('cache-control', 'no-store')
  @Header('content-type', 'text/html; charset=utf-8')
  @ApiProduces('text/html')
  @ApiOperation({
    summary:
      'The one-click acknowledge link of a notification: shows what it acknowledges and a button (POST); a GET never changes anything (chat and mail scanners open links)',
  })
  async linkPage(@Param('token') token: string): Promise<string> {
    const { incident, username, expiresAt, usable } = await this.incidents.describeLink(token);
    const title = `${incident.severity} ${incident.id}: ${incident.title}`;
    const action = usable
      ? `<p>This link ${escapeHtml(usable)}.</p>`
      : `<form method="post"><p>Acknowledge as <b>${escapeHtml(username)}</b> (valid until ${escapeHtml(expiresAt.toISOString())}).</p><button type="submit">Acknowledge</button></form>`;
    return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>Status: ${escapeHtml(incident.status)}</p>${action}</body></html>`;
  }

  @Post('incidents/ack/:token')
  @Public()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Acknowledge through the link: once, before it expires (the response time), as the person it was sent to, with their rights (audited as them); 400 for an expired, used or altered link',
  })
  @ApiOkResponse({ type: IncidentModel })
  async ackByLink(@Param('token') token: string): Promise<IncidentModel> {
    return toModel(await this.incidents.acknowledgeByLink(token));
  }

  @Get('oncall')
  @RequireRight('incidents.read')
  @ApiOperation({ summary: 'Who is on call now and next, per level, and what is wrong with the on-call set-up' })
  @ApiOkResponse({ type: OnCallModel })
  oncall(): OnCallModel {
    return this.incidents.oncall() as OnCallModel;
  }
}
