import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { DockerPort, HttpProbePort } from '../../integrations/contracts';
import { DOCKER, HTTP_PROBE, IntegrationsModule } from '../../integrations/integrations.module';
import { AuditModule } from '../../audit/audit.module';
import { ProcedureRegistry } from '../../procedures/procedure-registry';
import { BackupActions } from './backup-actions';
import { BackupEntity } from './backup.entity';
import { BackupMetrics } from './backup.metrics';
import { backupProcedures } from './backup.procedures';
import { BackupScheduler } from './backup.scheduler';
import { BackupService } from './backup.service';
import { BackupsController } from './backups.controller';
import { BackupsResolver } from './backups.resolver';

/** Backups: the catalog, the backup procedures on the runner, their API, schedules and metrics. */
@Module({
  imports: [TypeOrmModule.forFeature([BackupEntity]), IntegrationsModule, AuditModule],
  controllers: [BackupsController],
  providers: [BackupService, BackupActions, BackupsResolver, BackupMetrics, BackupScheduler],
  exports: [BackupService],
})
export class BackupsModule implements OnModuleInit {
  constructor(
    private readonly registry: ProcedureRegistry,
    private readonly backups: BackupService,
    @Inject(DOCKER) private readonly docker: DockerPort,
    @Inject(HTTP_PROBE) private readonly http: HttpProbePort,
    @Inject(INVENTORY) private readonly inventory: Inventory,
  ) {}

  onModuleInit(): void {
    for (const procedure of backupProcedures({
      backups: this.backups,
      docker: this.docker,
      http: this.http,
      inventory: this.inventory,
    }))
      this.registry.register(procedure);
  }
}
