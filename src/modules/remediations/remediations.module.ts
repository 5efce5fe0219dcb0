import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import {
  AlertmanagerPort,
  DockerPort,
  ElasticsearchPort,
  HostResourcesPort,
  HttpProbePort,
  NotifierPort,
  PrometheusPort,
  TargetDatabasePort,
  TargetRedisPort,
} from '../../integrations/contracts';
import {
  ALERTMANAGER,
  DOCKER,
  ELASTICSEARCH,
  HOST_RESOURCES,
  HTTP_PROBE,
  IntegrationsModule,
  NOTIFIER,
  PROMETHEUS,
  TARGET_DB,
  TARGET_REDIS,
} from '../../integrations/integrations.module';
import { ProcedureRegistry } from '../../procedures/procedure-registry';
import { AlertsModule } from '../alerts/alerts.module';
import { SilenceRecordsService } from '../alerts/silence-records.service';
import { BackupsModule } from '../backups/backups.module';
import { BackupService } from '../backups/backup.service';
import { HealthModule } from '../health/health.module';
import { ChecklistService } from '../health/checklist.service';
import { remediationProcedures } from './procedures';
import { RemediationDeps } from './remediation-deps';

/** The runbook's "Common Issues & Resolution" and "Emergency Procedures" as procedures on the runner. */
@Module({
  imports: [IntegrationsModule, AlertsModule, BackupsModule, HealthModule],
})
export class RemediationsModule implements OnModuleInit {
  constructor(
    private readonly registry: ProcedureRegistry,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly clock: Clock,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(DOCKER) private readonly docker: DockerPort,
    @Inject(TARGET_DB) private readonly targetDb: TargetDatabasePort,
    @Inject(TARGET_REDIS) private readonly targetRedis: TargetRedisPort,
    @Inject(HTTP_PROBE) private readonly http: HttpProbePort,
    @Inject(PROMETHEUS) private readonly prometheus: PrometheusPort,
    @Inject(ELASTICSEARCH) private readonly elasticsearch: ElasticsearchPort,
    @Inject(ALERTMANAGER) private readonly alertmanager: AlertmanagerPort,
    @Inject(NOTIFIER) private readonly notifier: NotifierPort,
    @Inject(HOST_RESOURCES) private readonly host: HostResourcesPort,
    private readonly backups: BackupService,
    private readonly checklist: ChecklistService,
    private readonly silences: SilenceRecordsService,
  ) {}

  onModuleInit(): void {
    const deps: RemediationDeps = {
      inventory: this.inventory,
      config: this.config,
      clock: this.clock,
      dataSource: this.dataSource,
      docker: this.docker,
      targetDb: this.targetDb,
      targetRedis: this.targetRedis,
      http: this.http,
      prometheus: this.prometheus,
      elasticsearch: this.elasticsearch,
      alertmanager: this.alertmanager,
      notifier: this.notifier,
      host: this.host,
      backups: this.backups,
      checklist: this.checklist,
      silences: this.silences,
    };
    for (const procedure of remediationProcedures(deps)) this.registry.register(procedure);
  }
}
