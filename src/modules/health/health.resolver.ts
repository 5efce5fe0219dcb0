import { Args, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { CurrentIdentity } from '../../common/current-identity.decorator';
import { PageOf } from '../../common/graphql-page';
import { ParseUuidPipe } from '../../common/ids';
import { Identity } from '../../common/request-context';
import { RequireRight } from '../../guards/right.decorator';
import { ChecklistService } from './checklist.service';
import { HealthSummaryService } from './health-summary.service';
import { ChecklistArgs, ChecklistRunModel, HealthSummaryModel, RunChecklistArgs } from './health.dto';

@ObjectType('ChecklistRunPage')
class ChecklistRunPageModel extends PageOf(ChecklistRunModel, 'ChecklistRunPageBase') {}

@Resolver()
export class HealthResolver {
  constructor(
    private readonly checklistService: ChecklistService,
    private readonly summaries: HealthSummaryService,
  ) {}

  @Query(() => HealthSummaryModel, { description: "The ERP stack's latest health" })
  @RequireRight('health.read')
  healthSummary(): Promise<HealthSummaryModel> {
    return this.summaries.summary();
  }

  @Query(() => ChecklistRunPageModel, { description: 'Checklist history (daily and hourly runs), newest first' })
  @RequireRight('health.read')
  checklistRuns(@Args() args: ChecklistArgs) {
    return this.checklistService.list({
      ...args,
      from: args.from ? new Date(args.from) : undefined,
      to: args.to ? new Date(args.to) : undefined,
    });
  }

  @Query(() => ChecklistRunModel)
  @RequireRight('health.read')
  checklistRun(@Args('id', new ParseUuidPipe()) id: string) {
    return this.checklistService.get(id);
  }

  @Mutation(() => ChecklistRunModel, { description: 'Run the daily startup checklist now (or the hourly health check: kind "hourly")' })
  @RequireRight('checklist.run', { action: 'checklist.run' })
  runChecklist(@CurrentIdentity() identity: Identity, @Args() args: RunChecklistArgs) {
    return this.checklistService.run('manual', identity.username, null, { kind: args.kind });
  }
}
