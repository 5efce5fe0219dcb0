import { ConfigError, loadAppConfig, AppConfig } from '../config/app-config';
import { InventoryError, loadInventory, LoadedInventory } from '../config/inventory.loader';
import { ensureDatabase } from '../infra/database/ensure-database';
import { migrate } from '../infra/database/migrator';

/** Loads and validates configuration for a command-line tool; exits 78 with the problems otherwise. */
export function loadForCli(): { config: AppConfig; loaded: LoadedInventory } {
  try {
    return { config: loadAppConfig(), loaded: loadInventory() };
  } catch (error) {
    if (error instanceof ConfigError || error instanceof InventoryError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}

/** Creates the control plane's database when missing and applies pending migrations. */
export async function prepareDatabase(config: AppConfig, log: (line: string) => void = () => undefined): Promise<void> {
  if (await ensureDatabase(config.OPS_DATABASE_URL)) log(`created database ${new URL(config.OPS_DATABASE_URL).pathname.slice(1)}`);
  const result = await migrate(config.OPS_DATABASE_URL, log);
  log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already applied`);
}

export function fail(error: unknown): never {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
