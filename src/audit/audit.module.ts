import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEntryEntity } from './audit-entry.entity';
import { AuditController } from './audit.controller';
import { AuditResolver } from './audit.resolver';
import { AuditService } from './audit.service';
import { AuditAnchorService } from './audit-anchor.service';

/** The audit trail; global because the guard and every mutation write to it. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEntryEntity])],
  controllers: [AuditController],
  providers: [AuditService, AuditAnchorService, AuditResolver],
  exports: [AuditService, AuditAnchorService],
})
export class AuditModule {}
