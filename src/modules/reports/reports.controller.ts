import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBadRequestResponse, ApiCreatedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity, OpsRequest } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { PerformanceReportService } from './performance-report.service';
import { PerformanceReportListQuery, PerformanceReportModel, PerformanceReportPageModel, PerformanceReportRequestDto } from './reports.dto';

const PATH = 'admin/reports/performance';

interface HeaderReply {
  header(name: string, value: string): unknown;
}

/** The ERP admin panel's performance report (the runbook's "Weekly Performance Report"), at the path it calls. */
@ApiTags('reports')
@Controller(PATH)
export class ReportsController {
  constructor(private readonly reports: PerformanceReportService) {}

  @Post()
  @RequireRight('reports.create', { action: 'report.performance.create' })
  @ApiOperation({ summary: 'Generate a performance report (P3) for whole days in the inventory\'s time zone: response_times, error_rates, usage_patterns (default), availability, backups; stored, 201 with Location' })
  @ApiCreatedResponse({ description: 'The report document (see GET /admin/reports/performance/{id})', schema: { type: 'object', additionalProperties: true } })
  @ApiBadRequestResponse({ description: 'A field is missing or wrong; the message names it and the allowed values; nothing is stored' })
  async create(@Body() body: PerformanceReportRequestDto, @CurrentIdentity() identity: Identity, @CurrentRequest() req: OpsRequest, @Res({ passthrough: true }) reply: HeaderReply): Promise<Record<string, unknown>> {
    const report = await this.reports.generate(body, identity);
    req.auditTarget = `performance-report:${String(report.id)}`;
    reply.header('Location', `/${PATH}/${String(report.id)}`);
    return report;
  }

  @Get()
  @RequireRight('reports.read')
  @ApiOperation({ summary: 'Stored performance reports, newest first, with their headline numbers (GET one for the whole document)' })
  @ApiOkResponse({ type: PerformanceReportPageModel })
  list(@Query() query: PerformanceReportListQuery): Promise<{ items: PerformanceReportModel[]; nextCursor: string | null }> {
    return this.reports.list(query);
  }

  @Get(':id')
  @RequireRight('reports.read')
  @ApiOperation({ summary: 'One stored performance report: the JSON document the CSV and HTML renderings are made from' })
  @ApiOkResponse({ schema: { type: 'object', additionalProperties: true } })
  @ApiNotFoundResponse({ description: 'No report with this id' })
  get(@Param('id', new ParseUuidPipe('id')) id: string): Promise<Record<string, unknown>> {
    return this.reports.get(id);
  }
}
