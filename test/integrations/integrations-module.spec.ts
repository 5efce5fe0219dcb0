/**
 * IntegrationsModule: providers built from the INVENTORY token, and pools/clients closed when
 * the application shuts down.
 */
import 'reflect-metadata';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import {
  DockerPort,
  ElasticsearchPort,
  HttpProbePort,
  PrometheusPort,
  TargetDatabasePort,
  TargetRedisPort,
} from '../../src/integrations/contracts';
import { DockerEngine } from '../../src/integrations/docker/docker-engine';
import {
  DOCKER,
  ELASTICSEARCH,
  HTTP_PROBE,
  IntegrationsModule,
  PROMETHEUS,
  TARGET_DB,
  TARGET_REDIS,
} from '../../src/integrations/integrations.module';
import { TargetDatabase } from '../../src/integrations/target-db/target-database';
import { failure, stackInventory } from './helpers';
import { ephemeralMasterKey } from '../../src/config/master-key';

const inventory = stackInventory();
const T = { timeoutMs: 5000 };

describe('IntegrationsModule', () => {
  it('provides the six adapters from the inventory and closes the pools on shutdown', async () => {
    @Module({
      imports: [ConfigModule.forRoot({} as AppConfig, inventory, 'stack/ops.stack.yaml', ephemeralMasterKey()), IntegrationsModule],
    })
    class Root {}
    const app = await NestFactory.createApplicationContext(Root, { logger: false });
    let closed = false;
    try {
      const docker = app.get<DockerPort>(DOCKER);
      const db = app.get<TargetDatabasePort>(TARGET_DB);
      const redis = app.get<TargetRedisPort>(TARGET_REDIS);
      const probe = app.get<HttpProbePort>(HTTP_PROBE);
      const prom = app.get<PrometheusPort>(PROMETHEUS);
      const es = app.get<ElasticsearchPort>(ELASTICSEARCH);
      expect(docker).toBeInstanceOf(DockerEngine);
      expect(db).toBeInstanceOf(TargetDatabase);
      expect((await docker.ping(T)).apiVersion).toBe('1.41');
      expect((await db.ping(T)).serverVersion).toMatch(/^15\./);
      expect((await redis.ping(T)).latencyMs).toBeGreaterThanOrEqual(0);
      expect((await probe.get(inventory.urls.backendHealth, T)).status).toBe(200);
      expect((await prom.query('up', T)).length).toBeGreaterThan(0);
      expect(['green', 'yellow', 'red']).toContain((await es.clusterHealth(T)).status);

      await app.close();
      closed = true;
      await failure(db.ping(T), 'unreachable', 'erp-database');
      await failure(redis.ping(T), 'unreachable', 'erp-redis');
    } finally {
      if (!closed) await app.close();
    }
  });
});
