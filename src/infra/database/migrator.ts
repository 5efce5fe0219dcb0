import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { projectRoot } from '../../common/paths';

function migrationsDir(): string {
  return join(projectRoot(), 'migrations');
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

const LOCK_KEY = 7_340_001;

/**
 * Applies migrations/NNNN_name.sql in order, each in its own transaction, recording
 * name and checksum. An advisory lock makes concurrent replicas wait for each other.
 * A changed, already-applied migration stops everything: migrations are append-only.
 */
export async function migrate(databaseUrl: string, log: (line: string) => void = () => undefined): Promise<MigrationResult> {
  const dir = migrationsDir();
  const files = readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS ops_schema_migrations (
      name varchar(200) PRIMARY KEY, checksum char(64) NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map<string, string>(
      (await client.query('SELECT name, checksum FROM ops_schema_migrations')).rows.map((r) => [r.name, r.checksum]),
    );
    const applied: string[] = [];
    for (const file of files) {
      const sql = readFileSync(join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const previous = done.get(file);
      if (previous) {
        if (previous !== checksum) throw new Error(`migration ${file} was changed after it was applied; add a new migration instead`);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO ops_schema_migrations (name, checksum) VALUES ($1, $2)', [file, checksum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(error as Error).message}`);
      }
      applied.push(file);
      log(`applied migration ${file}`);
    }
    return { applied, alreadyApplied: done.size };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
}
