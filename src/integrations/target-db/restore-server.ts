/**
 * The PostgreSQL servers a backup is restored into, behind one port: the ERP's own server (a
 * real restore, and drills when no drill server is configured) and the inventory's drill
 * server. Scratch databases are created, counted and dropped only through here.
 */
import { Inventory } from '../../config/inventory.schema';
import { CallOptions } from '../integration-error';
import { DockerPort, PgToolsPort, RestoreServerPort, TargetDatabasePort } from '../contracts';
import { databaseOf, LocalPgTools, pgToolsFor } from './pg-tools';
import { TargetDatabase } from './target-database';

export class RestoreServer implements RestoreServerPort {
  constructor(
    readonly server: string,
    readonly tools: PgToolsPort,
    private readonly admin: TargetDatabasePort,
    /** Whether this server's connection pool is ours to close (a drill server's; not the ERP adapter's). */
    private readonly ownsAdmin: boolean,
  ) {}

  terminateApplication(applicationName: string, options: CallOptions): Promise<number> {
    return this.admin.terminateApplication(applicationName, options);
  }

  async createScratch(name: string, options: CallOptions): Promise<void> {
    // A leftover of an earlier, interrupted drill with the same name goes first.
    await this.admin.dropDatabase(name, options);
    await this.admin.createDatabase(name, options);
  }

  async countScratch(name: string, tables: string[], options: CallOptions): Promise<Record<string, number>> {
    const scratch = this.admin.withDatabase(name);
    try {
      return await scratch.countQualified(tables, options);
    } finally {
      await scratch.close();
    }
  }

  dropScratch(name: string, options: CallOptions): Promise<void> {
    return this.admin.dropDatabase(name, options);
  }

  async close(): Promise<void> {
    if (this.ownsAdmin) await this.admin.close();
  }
}

/** The ERP's own server: pg_dump/psql as the inventory says (docker exec or TCP), the ERP adapter's pool. */
export function erpRestoreServer(inventory: Inventory, targetDb: TargetDatabasePort, docker: DockerPort): RestoreServer {
  const c = databaseOf(inventory.erpDatabase.url);
  return new RestoreServer(`${c.host}:${c.port} (the ERP's server)`, pgToolsFor(inventory, docker), targetDb, false);
}

/** Where restore drills go: the inventory's drill server (psql over TCP), else the ERP's own server. */
export function drillRestoreServer(inventory: Inventory, erp: RestoreServer): RestoreServer {
  const url = inventory.backups.drillDatabaseUrl;
  if (!url) return erp;
  const c = databaseOf(url);
  return new RestoreServer(
    `${c.host}:${c.port}`,
    new LocalPgTools(url, inventory.backups.pgBinDir),
    new TargetDatabase(url, { max: 1, system: 'drill-database' }),
    true,
  );
}
