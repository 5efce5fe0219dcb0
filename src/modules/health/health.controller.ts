import { Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { ChecklistService } from './checklist.service';
import { HealthSummaryService } from './health-summary.service';
import { ChecklistKindQuery, ChecklistQuery, ChecklistRunModel, ChecklistRunPage, HealthSummaryModel, SummaryQuery } from './health.dto';

@ApiTags('health')
@Controller('api/v1')
export class HealthController {
  constructor(
    private readonly checklist: ChecklistService,
    private readonly summaries: HealthSummaryService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Get('health/summary')
  @RequireRight('health.read')
  @ApiOperation({ summary: "The ERP stack's latest health: one line per service, check and metric; stale when older than the schedule" })
  @ApiProduces('application/json', 'text/plain')
  @ApiOkResponse({ type: HealthSummaryModel })
  async summary(@Query() query: SummaryQuery, @Headers('accept') accept: string | undefined, @Res() response: unknown): Promise<void> {
    const adapter = this.adapterHost.httpAdapter;
    const wantsText = query.format === 'text' || (!query.format && /^text\/plain/.test(accept ?? ''));
    if (wantsText) {
      adapter.setHeader(response, 'Content-Type', 'text/plain; charset=utf-8');
      adapter.reply(response, await this.summaries.text(), 200);
      return;
    }
    adapter.reply(response, await this.summaries.summary(), 200);
  }

  @Post('checklists')
  @RequireRight('checklist.run', { action: 'checklist.run' })
  @ApiOperation({
    summary: "Run the daily startup checklist now, or the hourly health check with ?kind=hourly (answers within the inventory's deadline)",
  })
  @ApiCreatedResponse({ type: ChecklistRunModel })
  run(@CurrentIdentity() identity: Identity, @Query() query: ChecklistKindQuery): Promise<ChecklistRunModel> {
    return this.checklist.run('manual', identity.username, null, { kind: query.kind });
  }

  @Get('checklists')
  @RequireRight('health.read')
  @ApiOperation({ summary: 'Checklist history (daily and hourly runs), newest first; filter by kind, date and verdict' })
  @ApiOkResponse({ type: ChecklistRunPage })
  list(@Query() query: ChecklistQuery): Promise<ChecklistRunPage> {
    return this.checklist.list({
      ...query,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
    });
  }

  @Get('checklists/:id')
  @RequireRight('health.read')
  @ApiOperation({ summary: 'One checklist run with every item and check' })
  @ApiOkResponse({ type: ChecklistRunModel })
  get(@Param('id', new ParseUuidPipe()) id: string): Promise<ChecklistRunModel> {
    return this.checklist.get(id);
  }
}
