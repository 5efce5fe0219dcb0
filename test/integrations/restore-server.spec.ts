/**
 * RestoreServer (target-db): psql into scratch databases of a drill server, counting and
 * dropping them, against the test PostgreSQL (127.0.0.1:5432) with the local psql over TCP.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { expect } from 'expect';
import { drillRestoreServer, erpRestoreServer, RestoreServer } from '../../src/integrations/target-db/restore-server';
import { TargetDatabase } from '../../src/integrations/target-db/target-database';
import { dbUrl, withClient } from '../helpers/db';
import { exampleInventory } from '../helpers/step-context';

const T = { timeoutMs: 10_000 };

async function databaseExists(name: string): Promise<boolean> {
  const rows = await withClient('postgres', (c) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]));
  return rows.rowCount === 1;
}

/** Feeds SQL to psql through the server's tools and returns its exit status. */
async function runPsql(server: RestoreServer, database: string, sql: string): Promise<number | null> {
  const psql = await server.tools.psql(database, new AbortController().signal, 'erp-ops-test-restore-server');
  psql.stdout.resume();
  psql.stdin!.end(sql);
  return psql.exit;
}

describe('RestoreServer', () => {
  const base = exampleInventory();
  const inventory = { ...base, backups: { ...base.backups, drillDatabaseUrl: dbUrl('postgres'), pgBinDir: '' } };
  const scratch = `erp_drill_${randomBytes(6).toString('hex')}`;
  let erpDb: TargetDatabase;
  let drill: RestoreServer;

  before(() => {
    erpDb = new TargetDatabase(dbUrl('postgres'));
    drill = drillRestoreServer(inventory, erpRestoreServer(inventory, erpDb, undefined as never));
  });
  after(async () => {
    await drill.dropScratch(scratch, T).catch(() => undefined);
    await drill.close();
    await erpDb.close();
  });

  it('names the drill server for plans and runs psql over TCP without showing a password', () => {
    expect(drill.server).toBe('127.0.0.1:5432');
    expect(drill.tools.via).toBe('tcp');
    expect(drill.tools.describe('psql', scratch)).toBe(
      `psql -X -q -v ON_ERROR_STOP=1 --no-password (host 127.0.0.1:5432, user postgres, database ${scratch})`,
    );
  });

  it('creates a scratch database, restores SQL into it with psql, counts its rows and drops it', async () => {
    await drill.createScratch(scratch, T);
    expect(await databaseExists(scratch)).toBe(true);
    const exit = await runPsql(
      drill,
      scratch,
      'CREATE TABLE public.items (id int);\nINSERT INTO public.items SELECT generate_series(1, 7);\n',
    );
    expect(exit).toBe(0);
    expect(await drill.countScratch(scratch, ['public.items'], T)).toEqual({ 'public.items': 7 });
    // A leftover of the same name (an interrupted drill) is replaced by an empty database.
    await drill.createScratch(scratch, T);
    const failed = await runPsql(drill, scratch, 'SELECT count(*) FROM public.items;\n');
    expect(failed).toBe(3);
    await drill.dropScratch(scratch, T);
    expect(await databaseExists(scratch)).toBe(false);
  });

  it('refuses a scratch name that is not a plain database name', async () => {
    await expect(drill.createScratch('Robert"; DROP DATABASE postgres; --', T)).rejects.toThrow(/not a database name/);
  });
});
