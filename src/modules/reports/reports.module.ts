import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IntegrationsModule } from '../../integrations/integrations.module';
import { PerformanceReportEntity } from './performance-report.entity';
import { PerformanceReportService } from './performance-report.service';
import { ReportMetrics } from './report.metrics';
import { ReportsController } from './reports.controller';
import { ReportsResolver } from './reports.resolver';

/** Reports: the performance report (Prometheus and the control plane's own tables), stored and served. */
@Module({
  imports: [TypeOrmModule.forFeature([PerformanceReportEntity]), IntegrationsModule],
  controllers: [ReportsController],
  providers: [PerformanceReportService, ReportsResolver, ReportMetrics],
  exports: [PerformanceReportService],
})
export class ReportsModule {}
