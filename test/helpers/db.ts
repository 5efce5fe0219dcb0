import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const PG_BASE = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
/** Overridable so that two checkouts can run their suites on one server without sharing a template. */
export const TEMPLATE_DB = process.env.TEST_TEMPLATE_DB ?? 'erp_ops_test_template';
/** Prefix of the per-file test databases (global-setup drops leftovers with this prefix only). */
export const TEST_DB_PREFIX = process.env.TEST_DB_PREFIX ?? 'erp_ops_t_';

export function dbUrl(name: string): string {
  return `${PG_BASE}/${name}`;
}

export async function withClient<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: dbUrl(database) });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database cloned from the migrated template (one per test file). */
export async function createTestDatabase(): Promise<string> {
  const name = `${TEST_DB_PREFIX}${randomBytes(5).toString('hex')}`;
  await withClient('postgres', (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE_DB}"`));
  return name;
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withClient('postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
