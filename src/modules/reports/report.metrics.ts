import { Injectable, OnModuleInit } from '@nestjs/common';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { registerReportKind } from './report-last-generated';
import { PerformanceReportService } from './performance-report.service';

/** ops_report_last_generated_timestamp{kind="performance"|"weekly"}: read from the table at scrape time (every replica agrees). */
@Injectable()
export class ReportMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: MetricsService,
    private readonly reports: PerformanceReportService,
  ) {}

  onModuleInit(): void {
    registerReportKind(this.metrics.registry, 'performance', () => this.reports.lastGeneratedAt('performance'));
    registerReportKind(this.metrics.registry, 'weekly', () => this.reports.lastGeneratedAt('weekly'));
  }
}
