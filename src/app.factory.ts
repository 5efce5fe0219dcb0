import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Logger } from 'pino';
import { AppModule } from './app.module';
import { AppConfig } from './config/app-config';
import { Inventory } from './config/inventory.schema';
import { PinoNestLogger, createLogger } from './common/logger';
import { createHttpAdapter, configureHttp } from './http/http-setup';
import { loadMasterKey, MasterKey } from './config/master-key';

export interface CreateAppOptions {
  config: AppConfig;
  inventory: Inventory;
  inventoryFile: string;
  logger?: Logger;
  /** Loaded from OPS_MASTER_KEY or OPS_MASTER_KEY_FILE when not given. */
  masterKey?: MasterKey;
}

/** Builds the application (used by main, the tests, the benchmarks and the contract generator). */
export async function createApp({ config, inventory, inventoryFile, logger, masterKey }: CreateAppOptions): Promise<INestApplication> {
  const log = logger ?? createLogger(config.OPS_LOG_LEVEL);
  const key = masterKey ?? loadMasterKey(config);
  if (key.generated)
    log.warn(
      { file: key.source, keyId: key.id },
      'generated the master key (audit chain, signing keys): back this file up; every replica needs the same key',
    );
  const app = await NestFactory.create(
    AppModule.forRoot({ config, inventory, inventoryFile, masterKey: key }),
    createHttpAdapter(config) as any,
    {
      logger: new PinoNestLogger(log),
      bufferLogs: false,
      abortOnError: false,
      // JSON bodies are parsed by our own parser (src/http/json-body.ts), registered in configureHttp.
      bodyParser: false,
    },
  );
  await configureHttp(app, config, inventory, log);
  app.enableShutdownHooks();
  await app.init();
  return app;
}
