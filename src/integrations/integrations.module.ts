/**
 * The integration adapters as injectable providers, built from the inventory (INVENTORY,
 * provided by the global ConfigModule). Pools and clients are closed on application shutdown.
 */
import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { INVENTORY } from '../config/config.module';
import { Inventory } from '../config/inventory.schema';
import { DockerPort, RestoreServerPort, TargetDatabasePort, TargetRedisPort } from './contracts';
import { Alertmanager } from './alertmanager/alertmanager';
import { DockerEngine } from './docker/docker-engine';
import { Elasticsearch } from './elasticsearch/elasticsearch';
import { NodeExporterHost } from './host/node-exporter-host';
import { HttpProbe } from './http/http-probe';
import { Notifier } from './notify/notifier';
import { Prometheus } from './prometheus/prometheus';
import { drillRestoreServer, erpRestoreServer, RestoreServer } from './target-db/restore-server';
import { TargetDatabase } from './target-db/target-database';
import { TargetRedis } from './target-redis/target-redis';

export const DOCKER = Symbol('DOCKER');
export const TARGET_DB = Symbol('TARGET_DB');
export const TARGET_REDIS = Symbol('TARGET_REDIS');
export const HTTP_PROBE = Symbol('HTTP_PROBE');
export const PROMETHEUS = Symbol('PROMETHEUS');
export const ELASTICSEARCH = Symbol('ELASTICSEARCH');
export const ALERTMANAGER = Symbol('ALERTMANAGER');
export const NOTIFIER = Symbol('NOTIFIER');
/** The ERP's database server for restores (psql, pg_dump, ending a stopped tool's session). */
export const ERP_DB_SERVER = Symbol('ERP_DB_SERVER');
/** The server of restore drills' scratch databases (the drill server, or the ERP's own). */
export const DRILL_DB_SERVER = Symbol('DRILL_DB_SERVER');
/** The ERP host's disk, CPU, memory and load (its node exporter), not the control plane's. */
export const HOST_RESOURCES = Symbol('HOST_RESOURCES');

@Injectable()
export class IntegrationsShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(TARGET_DB) private readonly targetDb: TargetDatabasePort,
    @Inject(TARGET_REDIS) private readonly targetRedis: TargetRedisPort,
    @Inject(DRILL_DB_SERVER) private readonly drillServer: RestoreServerPort,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.targetDb.close(), this.targetRedis.close(), this.drillServer.close()]);
  }
}

@Module({
  providers: [
    { provide: DOCKER, useFactory: (inventory: Inventory) => new DockerEngine(inventory.stack.dockerHost), inject: [INVENTORY] },
    { provide: TARGET_DB, useFactory: (inventory: Inventory) => new TargetDatabase(inventory.erpDatabase.url), inject: [INVENTORY] },
    { provide: TARGET_REDIS, useFactory: (inventory: Inventory) => new TargetRedis(inventory.erpRedis.url), inject: [INVENTORY] },
    { provide: HTTP_PROBE, useFactory: (inventory: Inventory) => new HttpProbe({ ...inventory.urls }), inject: [INVENTORY] },
    { provide: PROMETHEUS, useFactory: (inventory: Inventory) => new Prometheus(inventory.urls.prometheus), inject: [INVENTORY] },
    { provide: ELASTICSEARCH, useFactory: (inventory: Inventory) => new Elasticsearch(inventory.urls.elasticsearch), inject: [INVENTORY] },
    { provide: ALERTMANAGER, useFactory: (inventory: Inventory) => new Alertmanager(inventory.urls.alertmanager), inject: [INVENTORY] },
    { provide: NOTIFIER, useFactory: (inventory: Inventory) => new Notifier(inventory.notifications), inject: [INVENTORY] },
    {
      provide: ERP_DB_SERVER,
      useFactory: (inventory: Inventory, targetDb: TargetDatabasePort, docker: DockerPort) => erpRestoreServer(inventory, targetDb, docker),
      inject: [INVENTORY, TARGET_DB, DOCKER],
    },
    {
      provide: DRILL_DB_SERVER,
      useFactory: (inventory: Inventory, erp: RestoreServer) => drillRestoreServer(inventory, erp),
      inject: [INVENTORY, ERP_DB_SERVER],
    },
    {
      provide: HOST_RESOURCES,
      useFactory: (inventory: Inventory, docker: DockerPort) => new NodeExporterHost(inventory.stack.nodeExporterUrl, docker),
      inject: [INVENTORY, DOCKER],
    },
    IntegrationsShutdown,
  ],
  exports: [
    DOCKER,
    TARGET_DB,
    TARGET_REDIS,
    HTTP_PROBE,
    PROMETHEUS,
    ELASTICSEARCH,
    ALERTMANAGER,
    NOTIFIER,
    ERP_DB_SERVER,
    DRILL_DB_SERVER,
    HOST_RESOURCES,
  ],
})
export class IntegrationsModule {}
