import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { Identity } from '../../common/request-context';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { NotifierPort } from '../../integrations/contracts';
import { NOTIFIER } from '../../integrations/integrations.module';
import { PerformanceReportService } from './performance-report.service';
import { PERFORMANCE_SECTIONS } from './report-period';
import { ReportDeliveryEntity } from './report-delivery.entity';
import { renderReportCsvZip, renderReportHtml } from './render';
import { weeklyPeriod, weeklySubject } from './weekly-report';

/**
 * The runbook's "Weekly Performance Report" (Friday 17:00): the last 7 days, every section,
 * stored, and mailed to the management address with the charts inline (PNG, cid:) and the
 * CSV tables attached. Every attempt is recorded; the report is kept whether or not it went out.
 */
@Injectable()
export class WeeklyReportService {
  private readonly logger = new Logger(WeeklyReportService.name);

  constructor(
    private readonly reports: PerformanceReportService,
    @InjectRepository(ReportDeliveryEntity) private readonly deliveries: Repository<ReportDeliveryEntity>,
    @Inject(NOTIFIER) private readonly notifier: NotifierPort,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly clock: Clock,
  ) {}

  /** Generates the last 7 days' report (stored; every section). */
  async generateWeekly(identity: Identity): Promise<Record<string, unknown>> {
    const { startDate, endDate } = weeklyPeriod(this.clock.now().getTime(), this.inventory.timezone);
    return this.reports.generate(
      { start_date: startDate, end_date: endDate, include: [...PERFORMANCE_SECTIONS] } as never,
      identity,
      'weekly',
    );
  }

  /** Mails a stored report to management; one recorded attempt (the notifier retries within it). */
  async send(reportId: string, kind: 'weekly' | 'manual', attempt = 1): Promise<ReportDeliveryEntity> {
    const report = await this.reports.get(reportId);
    const period = report.period as { startDate: string; endDate: string };
    const subject = weeklySubject(period.startDate, period.endDate);
    const rendered = renderReportHtml(report, { images: 'cid' });
    const zip = renderReportCsvZip(report);
    const summary = report.summary as Record<string, unknown> | undefined;
    const text = [
      subject,
      `Period: ${period.startDate} to ${period.endDate} (${this.inventory.timezone})`,
      summary
        ? `Requests: ${String(summary.requests ?? 'n/a')}; p95: ${String(summary.p95Seconds ?? 'n/a')} s; 5xx: ${String(summary.errorRatePercent ?? 'n/a')} %`
        : '',
      'The charts are in the HTML part; the tables are attached as CSV (zip).',
    ]
      .filter(Boolean)
      .join('\n');
    const deliveries = await this.notifier.send(
      {
        audience: 'management',
        subject,
        text,
        html: rendered.html,
        attachments: [
          ...rendered.images.map((i) => ({ filename: i.filename, content: i.content, contentType: i.contentType, cid: i.cid })),
          { filename: `performance-report-${period.startDate}_${period.endDate}.zip`, content: zip, contentType: 'application/zip' },
        ],
      },
      { retries: 2, timeoutMs: 60_000 },
    );
    const email = deliveries.find((d) => d.channel === 'email');
    const delivered = Boolean(email?.delivered);
    const row = this.deliveries.create({
      id: randomUUID(),
      reportId,
      kind,
      subject,
      recipients: [this.inventory.notifications.managementEmail],
      attempt,
      delivered,
      error: delivered ? null : (email?.error ?? email?.skipped ?? 'no e-mail channel'),
      deliveries: deliveries as never,
      createdAt: this.clock.now(),
    });
    await this.deliveries.insert(row as never);
    if (!delivered) this.logger.warn(`report ${reportId} not mailed (attempt ${attempt}): ${row.error}`);
    return row;
  }

  async deliveriesOf(reportId: string): Promise<ReportDeliveryEntity[]> {
    await this.reports.get(reportId); // 404 for an unknown report
    return this.deliveries.find({ where: { reportId }, order: { createdAt: 'ASC' } });
  }

  /** Sends and fails (for the queue's retry) when the mail did not go out. */
  async sendOrThrow(reportId: string, attempt: number): Promise<ReportDeliveryEntity> {
    const row = await this.send(reportId, 'weekly', attempt);
    if (!row.delivered) throw new DomainError(ErrorCode.DependencyUnavailable, `the weekly report was not mailed: ${row.error}`);
    return row;
  }
}
