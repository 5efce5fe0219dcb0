import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { ParseUuidPipe } from '../../common/ids';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { PerformanceReportService } from './performance-report.service';
import {
  PerformanceReportListArgs,
  PerformanceReportModel,
  PerformanceReportPageModel,
  PerformanceReportRequestDto,
  reportModel,
} from './reports.dto';

/** GraphQL equivalents of /admin/reports/performance. */
@Resolver()
export class ReportsResolver {
  constructor(private readonly reports: PerformanceReportService) {}

  @Query(() => PerformanceReportPageModel, { description: 'Stored performance reports, newest first (report is null in the list)' })
  @RequireRight('reports.read')
  performanceReports(@Args() args: PerformanceReportListArgs) {
    return this.reports.list(args);
  }

  @Query(() => PerformanceReportModel, { description: 'One stored performance report, with the whole document' })
  @RequireRight('reports.read')
  async performanceReport(@Args('id', new ParseUuidPipe('id')) id: string): Promise<PerformanceReportModel> {
    return reportModel(await this.reports.get(id));
  }

  @Mutation(() => PerformanceReportModel, { description: 'Generate and store a performance report (P3)' })
  @RequireRight('reports.create', { action: 'report.performance.create' })
  async generatePerformanceReport(
    @Args('input') input: PerformanceReportRequestDto,
    @CurrentIdentity() identity: Identity,
  ): Promise<PerformanceReportModel> {
    return reportModel(await this.reports.generate(input, identity));
  }
}
