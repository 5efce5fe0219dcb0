import { Body, Controller, Get, HttpCode, Param, PipeTransform, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../common/current-identity.decorator';
import { DomainError } from '../common/errors';
import { ParseUuidPipe } from '../common/ids';
import { Identity, OpsRequest } from '../common/request-context';
import { RequireRight } from '../guards/right.decorator';
import { ProcedureRegistry } from './procedure-registry';
import { CreateRunDto, ProcedureModel, RunModel, RunPage, RunQuery } from './procedures.dto';
import { RunEvents } from './run-events';
import { RunnerService } from './runner.service';
import { streamSse } from './sse';

export class ParseProcedureIdPipe implements PipeTransform<string, string> {
  constructor(private readonly name = 'id') {}

  transform(value: string): string {
    if (typeof value !== 'string' || !/^[a-z][a-z0-9.-]{1,99}$/.test(value))
      throw DomainError.validation([{ field: this.name, problem: 'must be a procedure id, for example backup.create' }]);
    return value;
  }
}

@ApiTags('procedures')
@Controller('api/v1')
export class ProceduresController {
  constructor(
    private readonly runner: RunnerService,
    private readonly registry: ProcedureRegistry,
    private readonly runEvents: RunEvents,
  ) {}

  @Get('procedures')
  @RequireRight('procedures.read')
  @ApiOperation({ summary: 'The procedures the control plane can run, with their severity and who may request them' })
  @ApiOkResponse({ type: [ProcedureModel] })
  procedures(): ProcedureModel[] {
    return this.registry.list().map((d) => this.runner.describe(d));
  }

  @Post('procedures/:id/runs')
  @RequireRight('procedures.run', { action: 'procedure.request' })
  @ApiOperation({
    summary: 'Request a run (dryRun: plan only). Real runs are queued, or wait for approval when the procedure needs a second person',
  })
  @ApiCreatedResponse({ type: RunModel })
  request(
    @Param('id', new ParseProcedureIdPipe()) id: string,
    @Body() body: CreateRunDto,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
  ): Promise<RunModel> {
    req.auditTarget = `procedure:${id}`;
    return this.runner.request(id, body, identity);
  }

  @Get('runs')
  @RequireRight('procedures.read')
  @ApiOperation({ summary: 'Runs, newest first' })
  @ApiOkResponse({ type: RunPage })
  runs(@Query() query: RunQuery): Promise<RunPage> {
    return this.runner.list({ status: query.status, procedureId: query.procedure, limit: query.limit, cursor: query.cursor });
  }

  @Get('runs/:id')
  @RequireRight('procedures.read')
  @ApiOperation({ summary: 'One run with its steps, plans and outputs' })
  @ApiOkResponse({ type: RunModel })
  run(@Param('id', new ParseUuidPipe()) id: string): Promise<RunModel> {
    return this.runner.get(id);
  }

  @Get('runs/:id/events')
  @RequireRight('procedures.read')
  @ApiOperation({
    summary:
      "The run's events as Server-Sent Events: a `snapshot` (the run, as GET /runs/{id}), then every status, step and progress event; ends after a final status",
    description:
      'Each event is `event: <type>`, `data: <json>`, `id: <n>`; a `: keep-alive` comment every 15 s. A run that already ended gives its snapshot and the end of the stream.',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'The event stream',
    content: {
      'text/event-stream': { schema: { type: 'string', example: 'event: snapshot\ndata: {"id":"…","status":"running",…}\nid: 1\n\n' } },
    },
  })
  @ApiNotFoundResponse({ description: 'No such run (before the stream starts)' })
  async events(@Param('id', new ParseUuidPipe()) id: string, @Res() reply: object): Promise<void> {
    const feed = await this.runner.events(id);
    streamSse(feed, reply, this.runEvents.heartbeatMs);
  }

  @Post('runs/:id/approve')
  @HttpCode(200)
  @RequireRight('procedures.run', { action: 'procedure.approve' })
  @ApiOperation({ summary: 'Approve a run awaiting a second person (the complementary role; not the requester)' })
  @ApiOkResponse({ type: RunModel })
  approve(@Param('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<RunModel> {
    return this.runner.approve(id, identity, true);
  }

  @Post('runs/:id/reject')
  @HttpCode(200)
  @RequireRight('procedures.run', { action: 'procedure.reject' })
  @ApiOperation({ summary: 'Reject a run awaiting approval (the same people who may approve it)' })
  @ApiOkResponse({ type: RunModel })
  reject(@Param('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<RunModel> {
    return this.runner.approve(id, identity, false);
  }

  @Post('runs/:id/cancel')
  @HttpCode(200)
  @RequireRight('procedures.run', { action: 'procedure.cancel' })
  @ApiOperation({
    summary: "Cancel a run: at once when it has not started; a running run's current step is aborted (its signal) and the rest cancelled",
    description:
      "Allowed to the run's requester (any of their identities) and to roles holding the run's level in its procedure's domain (a P1 database run: dba, admin); others get 403 naming whom to escalate to.",
  })
  @ApiOkResponse({ type: RunModel })
  cancel(@Param('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<RunModel> {
    return this.runner.cancel(id, identity);
  }
}
