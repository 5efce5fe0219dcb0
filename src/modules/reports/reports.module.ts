import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IntegrationsModule } from '../../integrations/integrations.module';
import { PerformanceReportEntity } from './performance-report.entity';
import { PerformanceReportService } from './performance-report.service';
import { ReportMetrics } from './report.metrics';
import { ReportsController } from './reports.controller';
import { ReportsResolver } from './reports.resolver';
import { ReportDeliveryEntity } from './report-delivery.entity';
import { WeeklyReportController } from './weekly-report.controller';
import { WeeklyReportScheduler } from './weekly-report.scheduler';
import { WeeklyReportService } from './weekly-report.service';

/** Reports: the performance report (Prometheus and the control plane's own tables), stored and served; the weekly report mailed to management. */
@Module({
  imports: [TypeOrmModule.forFeature([PerformanceReportEntity, ReportDeliveryEntity]), IntegrationsModule],
  controllers: [ReportsController, WeeklyReportController],
  providers: [PerformanceReportService, ReportsResolver, ReportMetrics, WeeklyReportService, WeeklyReportScheduler],
  exports: [PerformanceReportService],
})
export class ReportsModule {}
