import { Body, Controller, Get, Headers, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNotAcceptableResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { DomainError } from '../../common/errors';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity, OpsRequest } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { PerformanceReportService } from './performance-report.service';
import { negotiateReportFormat, renderReportAs, ReportRepresentation } from './render/report-format';
import { DEFAULT_SECTIONS } from './report-period';
import {
  PerformanceReportFormatQuery,
  PerformanceReportListQuery,
  PerformanceReportModel,
  PerformanceReportPageModel,
  PerformanceReportRequestDto,
} from './reports.dto';

const PATH = 'admin/reports/performance';
const PRODUCES = ['application/json', 'text/html', 'application/zip', 'text/csv'];
const FORMATS_DOC =
  'Format by ?format= (json, csv, html; wins over Accept) or Accept: application/json (default), text/html (self-contained page with server-rendered SVG charts), ' +
  "application/zip (?format=csv: every CSV table, attachment performance-report-<start>_<end>.zip), text/csv with ?section= (one section's table, RFC 4180; ?table= for its other tables). " +
  'Missing data is an empty CSV cell beside a coverage column, never 0.';

interface HeaderReply {
  header(name: string, value: string): unknown;
}

/** Headers of the representation sent; the body to return. */
function send(reply: HeaderReply, report: Record<string, unknown>, as: ReportRepresentation, query: PerformanceReportFormatQuery): unknown {
  const rendered = renderReportAs(report, as, query.section as string | undefined, query.table as string | undefined);
  reply.header('Vary', 'Accept');
  reply.header('Content-Type', rendered.contentType);
  if (rendered.disposition) reply.header('Content-Disposition', rendered.disposition);
  return rendered.body;
}

/** The ERP admin panel's performance report (the runbook's "Weekly Performance Report"), at the path it calls. */
@ApiTags('reports')
@Controller(PATH)
export class ReportsController {
  constructor(private readonly reports: PerformanceReportService) {}

  @Post()
  @RequireRight('reports.create', { action: 'report.performance.create' })
  @ApiOperation({
    summary:
      "Generate a performance report (P3) for whole days in the inventory's time zone: response_times, error_rates, usage_patterns (default), availability, backups, incidents; stored, 201 with Location",
  })
  @ApiProduces(...PRODUCES)
  @ApiCreatedResponse({
    description: `The report document (see GET /admin/reports/performance/{id}). ${FORMATS_DOC}`,
    schema: { type: 'object', additionalProperties: true },
  })
  @ApiBadRequestResponse({
    description:
      'A field or query parameter (format, section, table) is missing or wrong, or section is not among the included sections; the message names it and the allowed values; nothing is stored',
  })
  @ApiNotAcceptableResponse({
    description: 'Accept allows none of application/json, text/html, application/zip, text/csv (with ?section=); nothing is stored',
  })
  async create(
    @Body() body: PerformanceReportRequestDto,
    @Query() query: PerformanceReportFormatQuery,
    @Headers('accept') accept: string | undefined,
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
    @Res({ passthrough: true }) reply: HeaderReply,
  ): Promise<unknown> {
    // The format is checked before anything is computed or stored.
    const as = negotiateReportFormat({ ...query, accept });
    const include = Array.isArray(body.include) ? body.include : DEFAULT_SECTIONS;
    if (query.section !== undefined && !include.includes(query.section)) {
      throw DomainError.validation([
        {
          field: 'section',
          problem: `${String(query.section)} is not among the included sections (${include.map(String).join(', ')}); add it to include`,
        },
      ]);
    }
    const report = await this.reports.generate(body, identity);
    req.auditTarget = `performance-report:${String(report.id)}`;
    reply.header('Location', `/${PATH}/${String(report.id)}`);
    return send(reply, report, as, query);
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
  @ApiOperation({
    summary:
      "One stored performance report: the JSON document, or its CSV tables (zipped, or one section's) or HTML page with charts made from it",
  })
  @ApiProduces(...PRODUCES)
  @ApiOkResponse({ description: FORMATS_DOC, schema: { type: 'object', additionalProperties: true } })
  @ApiBadRequestResponse({ description: 'format, section or table is not one of the allowed values (the message lists them)' })
  @ApiNotFoundResponse({ description: 'No report with this id, or ?section= names a section the report does not include' })
  @ApiNotAcceptableResponse({
    description: 'Accept allows none of application/json, text/html, application/zip, text/csv (with ?section=); the message lists them',
  })
  async get(
    @Param('id', new ParseUuidPipe('id')) id: string,
    @Query() query: PerformanceReportFormatQuery,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: HeaderReply,
  ): Promise<unknown> {
    const as = negotiateReportFormat({ ...query, accept });
    return send(reply, await this.reports.get(id), as, query);
  }
}
