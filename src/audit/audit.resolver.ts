import { Args, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { PageOf } from '../common/graphql-page';
import { RequireRight } from '../guards/right.decorator';
import { AuditArgs, AuditEntryModel, AuditVerificationModel } from './audit.dto';
import { AuditService } from './audit.service';

@ObjectType('AuditPage')
class AuditPageModel extends PageOf(AuditEntryModel, 'AuditPageBase') {}

@Resolver()
export class AuditResolver {
  constructor(private readonly audit: AuditService) {}

  @Query(() => AuditPageModel, { description: 'Audit entries, newest first' })
  @RequireRight('audit.read')
  auditEntries(@Args() args: AuditArgs) {
    return this.audit.list({ ...args, from: args.from ? new Date(args.from) : undefined, to: args.to ? new Date(args.to) : undefined });
  }

  @Query(() => AuditVerificationModel, { description: 'Recompute the audit hash chain' })
  @RequireRight('audit.read')
  auditVerify() {
    return this.audit.verify();
  }
}
