import 'reflect-metadata';
import { createApp } from '../../src/app.factory';
import { createLogger } from '../../src/common/logger';
import { loadAppConfig } from '../../src/config/app-config';
import { loadInventory } from '../../src/config/inventory.loader';
import { bootstrapFirstAdmin } from '../../src/modules/auth/bootstrap-admin';
import { UsersService } from '../../src/modules/auth/users.service';
import { ProcedureRegistry } from '../../src/procedures/procedure-registry';
import { waitingProcedure } from './procedure-fixtures';

/**
 * The control plane as its own process, booted like src/main.ts from the environment (no
 * migration: test databases are clones of the migrated template), with the fixture
 * procedure `test.sleeper` (one step that waits 10 minutes). Prints `{"url": …}` once listening.
 */
async function main(): Promise<void> {
  const config = loadAppConfig();
  const loaded = loadInventory();
  const app = await createApp({ config, inventory: loaded.inventory, inventoryFile: loaded.file, logger: createLogger(config.OPS_LOG_LEVEL) });
  app.get(ProcedureRegistry).register(waitingProcedure('test.sleeper', { waitMs: 600_000 }));
  await bootstrapFirstAdmin(app.get(UsersService), config);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
}

main().catch((error) => {
  process.stderr.write(`control plane child failed to start: ${(error as Error).stack}\n`);
  process.exit(1);
});
