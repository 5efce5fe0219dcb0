import { migrate } from '../../src/infra/database/migrator';
import { dbUrl, TEMPLATE_DB, TEST_DB_PREFIX, withClient } from './db';

/** Builds the migrated template database that every test file clones (run once by scripts/test.sh). */
export async function globalSetup(): Promise<void> {
  await withClient('postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${TEMPLATE_DB}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${TEMPLATE_DB}"`);
    // Leftovers of interrupted runs.
    const old = await c.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [TEST_DB_PREFIX]);
    for (const row of old.rows) await c.query(`DROP DATABASE IF EXISTS "${row.datname}" WITH (FORCE)`);
  });
  await migrate(dbUrl(TEMPLATE_DB));
}

if (require.main === module) {
  globalSetup().then(
    () => process.stdout.write(`test template database ${TEMPLATE_DB} ready\n`),
    (error) => {
      process.stderr.write(`test setup failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
