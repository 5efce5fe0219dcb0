import { DataSource } from 'typeorm';
import { Clock } from '../../common/clock';
import { AppConfig } from '../../config/app-config';
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
import { SilenceRecordsService } from '../alerts/silence-records.service';
import { BackupService } from '../backups/backup.service';
import { ChecklistService } from '../health/checklist.service';

/** Everything the remediation procedures use: the adapters, the backups and the checklist. */
export interface RemediationDeps {
  inventory: Inventory;
  config: AppConfig;
  clock: Clock;
  dataSource: DataSource;
  docker: DockerPort;
  targetDb: TargetDatabasePort;
  targetRedis: TargetRedisPort;
  http: HttpProbePort;
  prometheus: PrometheusPort;
  elasticsearch: ElasticsearchPort;
  alertmanager: AlertmanagerPort;
  notifier: NotifierPort;
  /** The ERP host's disk, CPU, memory and load (its node exporter). */
  host: HostResourcesPort;
  backups: BackupService;
  /** The alerts module's record of the silences the control plane made. */
  silences: SilenceRecordsService;
  checklist: ChecklistService;
}
