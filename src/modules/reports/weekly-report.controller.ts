import { Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentIdentity, CurrentRequest } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity, OpsRequest } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { ReportDeliveryEntity } from './report-delivery.entity';
import { WeeklyReportService } from './weekly-report.service';

export class ReportDeliveryModel {
  @ApiProperty() id: string;
  @ApiProperty() reportId: string;
  @ApiProperty({ enum: ['weekly', 'manual'] }) kind: string;
  @ApiProperty({ example: 'ERP Weekly Performance Report - Week of Jan 13-19' }) subject: string;
  @ApiProperty({ type: [String] }) recipients: string[];
  @ApiProperty({ description: "The queue's attempt (a failed mail is retried)" }) attempt: number;
  @ApiProperty() delivered: boolean;
  @ApiPropertyOptional({ nullable: true, type: String }) error: string | null;
  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: 'Per channel: target (secrets masked), delivered, attempts, error',
  })
  deliveries: Record<string, unknown>[];
  @ApiProperty() createdAt: Date;
}

export class WeeklyReportResultModel {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The stored report (GET /admin/reports/performance/{id})' })
  report: Record<string, unknown>;
  @ApiProperty({ type: ReportDeliveryModel }) delivery: ReportDeliveryModel;
}

interface HeaderReply {
  header(name: string, value: string): unknown;
}

const ID = new ParseUuidPipe('id');

/** The weekly report to management, on demand, and mailing stored reports. */
@ApiTags('reports')
@Controller('admin/reports')
export class WeeklyReportController {
  constructor(private readonly weekly: WeeklyReportService) {}

  @Post('weekly')
  @RequireRight('reports.create', { action: 'report.weekly.create' })
  @ApiOperation({
    summary:
      'The weekly report now: the last 7 days (every section), stored, mailed to the management address (charts inline, CSV attached); the report is kept even when the mail fails',
  })
  @ApiCreatedResponse({ type: WeeklyReportResultModel })
  async weeklyNow(
    @CurrentIdentity() identity: Identity,
    @CurrentRequest() req: OpsRequest,
    @Res({ passthrough: true }) reply: HeaderReply,
  ): Promise<{ report: Record<string, unknown>; delivery: ReportDeliveryEntity }> {
    const report = await this.weekly.generateWeekly(identity);
    req.auditTarget = `performance-report:${String(report.id)}`;
    reply.header('Location', `/admin/reports/performance/${String(report.id)}`);
    const delivery = await this.weekly.send(String(report.id), 'weekly');
    return { report, delivery };
  }

  @Post('performance/:id/send')
  @HttpCode(200)
  @RequireRight('reports.create', { action: 'report.send' })
  @ApiOperation({ summary: 'Mail a stored report to the management address (one recorded attempt; the notifier retries within it)' })
  @ApiOkResponse({ type: ReportDeliveryModel })
  @ApiNotFoundResponse({ description: 'No report with this id' })
  async send(@Param('id', ID) id: string, @CurrentRequest() req: OpsRequest): Promise<ReportDeliveryEntity> {
    req.auditTarget = `performance-report:${id}`;
    return this.weekly.send(id, 'manual');
  }

  @Get('performance/:id/deliveries')
  @RequireRight('reports.read')
  @ApiOperation({ summary: 'Every attempt to mail this report, oldest first' })
  @ApiOkResponse({ type: [ReportDeliveryModel] })
  @ApiNotFoundResponse({ description: 'No report with this id' })
  deliveries(@Param('id', ID) id: string): Promise<ReportDeliveryEntity[]> {
    return this.weekly.deliveriesOf(id);
  }
}
