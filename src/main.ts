import 'reflect-metadata';
import { createApp } from './app.factory';
import { ConfigError, loadAppConfig } from './config/app-config';
import { InventoryError, loadInventory } from './config/inventory.loader';
import { createLogger } from './common/logger';
import { ensureDatabase } from './infra/database/ensure-database';
import { migrate } from './infra/database/migrator';
import { MasterKeyError } from './config/master-key';
import { bootstrapFirstAdmin } from './modules/auth/bootstrap-admin';
import { UsersService } from './modules/auth/users.service';

async function main(): Promise<void> {
  let config;
  let loaded;
  try {
    config = loadAppConfig();
    loaded = loadInventory();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InventoryError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const logger = createLogger(config.OPS_LOG_LEVEL);
  logger.info({ inventory: loaded.file }, 'inventory loaded');
  if (await ensureDatabase(config.OPS_DATABASE_URL)) logger.info('created the control plane database');
  if (config.OPS_MIGRATE_ON_START) await migrate(config.OPS_DATABASE_URL, (line) => logger.info(line));

  const app = await createApp({ config, inventory: loaded.inventory, inventoryFile: loaded.file, logger });
  const admin = await bootstrapFirstAdmin(app.get(UsersService), config);
  await app.listen(config.OPS_PORT, config.OPS_HOST);
  const base = `http://${config.OPS_HOST}:${config.OPS_PORT}`;
  logger.info({ url: base }, 'control plane listening');
  if (admin.created) {
    const password = admin.passwordFile ? `$(cat ${admin.passwordFile})` : '<OPS_BOOTSTRAP_ADMIN_PASSWORD>';
    process.stdout.write(
      `\nFirst start: created the admin user "${admin.username}".\n` +
        (admin.passwordFile ? `Its password is in ${admin.passwordFile} (mode 0600); change it, then delete the file.\n` : '') +
        `Sign in:\n  curl -s ${base}/api/v1/auth/login -H 'Content-Type: application/json' \\\n` +
        `    -d "{\\"username\\":\\"${admin.username}\\",\\"password\\":\\"${password}\\"}"\n\n`,
    );
  }
}

main().catch((error) => {
  if (error instanceof MasterKeyError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`control plane failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
