import 'reflect-metadata';
import { createApp } from '../../src/app.factory';
import { createLogger } from '../../src/common/logger';
import { loadAppConfig } from '../../src/config/app-config';
import { loadInventory } from '../../src/config/inventory.loader';
import { ensureDatabase } from '../../src/infra/database/ensure-database';
import { migrate } from '../../src/infra/database/migrator';
import { bootstrapFirstAdmin } from '../../src/modules/auth/bootstrap-admin';
import { UsersService } from '../../src/modules/auth/users.service';
import { ProcedureRegistry } from '../../src/procedures/procedure-registry';
import { slottedProcedure, waitingProcedure } from './procedure-fixtures';

/**
 * The control plane as its own process, booted like src/main.ts from the environment (no
 * migration unless OPS_MIGRATE_ON_START=true is set explicitly: test databases are clones of
 * the migrated template), with the fixture procedures `test.sleeper` (one step that waits 10
 * minutes) and `test.short` (one step that waits 1 s; parameter `slot` picks its lock, for load
 * tests). Prints `{"url": …}` once listening.
 */
async function main(): Promise<void> {
  const config = loadAppConfig();
  const loaded = loadInventory();
  if (process.env.OPS_MIGRATE_ON_START === 'true') {
    await ensureDatabase(config.OPS_DATABASE_URL);
    await migrate(config.OPS_DATABASE_URL);
  }
  const app = await createApp({
    config,
    inventory: loaded.inventory,
    inventoryFile: loaded.file,
    logger: createLogger(config.OPS_LOG_LEVEL),
  });
  app.get(ProcedureRegistry).register(waitingProcedure('test.sleeper', { waitMs: 600_000 }));
  app.get(ProcedureRegistry).register(slottedProcedure('test.short', { waitMs: 1000 }));
  await bootstrapFirstAdmin(app.get(UsersService), config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
}

main().catch((error) => {
  process.stderr.write(`control plane child failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
