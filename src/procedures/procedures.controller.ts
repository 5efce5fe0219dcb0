import { Body, Controller, Get, HttpCode, Param, PipeTransform, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../common/current-identity.decorator';
import { DomainError } from '../common/errors';
import { ParseUuidPipe } from '../common/ids';
import { Identity, OpsRequest } from '../common/request-context';
import { RequireRight } from '../guards/right.decorator';
import { ProcedureRegistry } from './procedure-registry';
import { CreateRunDto, ProcedureModel, RunModel, RunPage, RunQuery } from './procedures.dto';
import { RunnerService } from './runner.service';

class ParseProcedureIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || !/^[a-z][a-z0-9.-]{1,99}$/.test(value)) throw DomainError.validation([{ field: 'id', problem: 'must be a procedure id, for example backup.create' }]);
    return value;
  }
}

@ApiTags('procedures')
@Controller('api/v1')
export class ProceduresController {
  constructor(
    private readonly runner: RunnerService,
    private readonly registry: ProcedureRegistry,
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
  @ApiOperation({ summary: 'Request a run (dryRun: plan only). Real runs are queued, or wait for approval when the procedure needs a second person' })
  @ApiCreatedResponse({ type: RunModel })
  request(@Param('id', new ParseProcedureIdPipe()) id: string, @Body() body: CreateRunDto, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest): Promise<RunModel> {
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
  @ApiOperation({ summary: 'Reject a run awaiting approval' })
  @ApiOkResponse({ type: RunModel })
  reject(@Param('id', new ParseUuidPipe()) id: string, @CurrentIdentity() identity: Identity): Promise<RunModel> {
    return this.runner.approve(id, identity, false);
  }

  @Post('runs/:id/cancel')
  @HttpCode(200)
  @RequireRight('procedures.run', { action: 'procedure.cancel' })
  @ApiOperation({ summary: 'Cancel a run: at once when it has not started, else between steps' })
  @ApiOkResponse({ type: RunModel })
  cancel(@Param('id', new ParseUuidPipe()) id: string): Promise<RunModel> {
    return this.runner.cancel(id);
  }
}
