import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRight } from '../guards/right.decorator';
import { AuditPage, AuditQuery, AuditVerificationModel } from './audit.dto';
import { AuditService } from './audit.service';

@ApiTags('audit')
@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireRight('audit.read')
  @ApiOperation({ summary: 'Audit entries, newest first, with filters and cursor pagination' })
  @ApiOkResponse({ type: AuditPage })
  list(@Query() query: AuditQuery): Promise<AuditPage> {
    return this.audit.list({
      ...query,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
    });
  }

  @Get('verify')
  @RequireRight('audit.read')
  @ApiOperation({
    summary:
      'Recompute the keyed hash chain and compare it with the anchors kept outside the database: names rewritten ranges, removed anchored entries and a removed tail',
  })
  @ApiOkResponse({ type: AuditVerificationModel })
  verify(): Promise<AuditVerificationModel> {
    return this.audit.verify();
  }
}
