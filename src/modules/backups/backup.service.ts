import { randomUUID } from 'node:crypto';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, pageSize } from '../../common/pagination';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { RestoreServerPort, TargetDatabasePort } from '../../integrations/contracts';
import { DRILL_DB_SERVER, ERP_DB_SERVER, TARGET_DB } from '../../integrations/integrations.module';
import { databaseOf } from '../../integrations/target-db/pg-tools';
import { CatalogItem, catalogItem, RetentionPlan, retentionPlanOf, unknownFileItem } from './backup-catalog';
import { backupName, freeName, listDirectory, namingPattern, sha256File } from './backup-files';
import { BackupEntity, BackupKind } from './backup.entity';
import { dumpToFile } from './dump-to-file';
import { restoreStream } from './restore-stream';
import { SQL_CALL, Work } from './work';

export type { CatalogItem, RetentionPlan } from './backup-catalog';

/** The checklist's view of the catalog (BackupService.freshness). */
export interface BackupFreshness {
  newestVerified: BackupEntity | null;
  newest: BackupEntity | null;
  previous: BackupEntity | null;
}
export type { Work } from './work';

/**
 * Backups: the catalog, create (streamed pg_dump → parallel gzip → temporary file → fsync →
 * rename, SHA-256 and row counts recorded), verify (size, SHA-256, complete gzip stream,
 * pg_dump's completion marker, and a restore drill into a scratch database comparing row
 * counts), retention plans, delete, and the restore into the ERP database.
 */
@Injectable()
export class BackupService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(TARGET_DB) private readonly targetDb: TargetDatabasePort,
    @Inject(ERP_DB_SERVER) private readonly erpServer: RestoreServerPort,
    @Inject(DRILL_DB_SERVER) private readonly drillServer: RestoreServerPort,
    private readonly clock: Clock,
  ) {}

  private get catalog() {
    return this.dataSource.getRepository(BackupEntity);
  }

  get directory(): string {
    return this.inventory.backups.directory;
  }

  get erpDatabase(): string {
    return databaseOf(this.inventory.erpDatabase.url).database;
  }

  /** The psql command a restore into the ERP database runs, for plans (no secrets). */
  restoreCommand(database: string): string {
    return this.erpServer.tools.describe('psql', database);
  }

  private threads(): number {
    return this.inventory.backups.compressionThreads || Math.max(1, cpus().length);
  }

  async entry(id: string, options: { allowDeleted?: boolean } = {}): Promise<BackupEntity> {
    const entry = await this.catalog.findOne({ where: { id } });
    if (!entry || (entry.deletedAt && !options.allowDeleted)) throw DomainError.notFound('backup', id);
    return entry;
  }

  async newestVerified(): Promise<BackupEntity | null> {
    return this.catalog.findOne({ where: { deletedAt: IsNull(), verifyStatus: 'verified' }, order: { createdAt: 'DESC' } });
  }

  async newest(): Promise<BackupEntity | null> {
    return this.catalog.findOne({ where: { deletedAt: IsNull() }, order: { createdAt: 'DESC' } });
  }

  // ---- create ------------------------------------------------------------------------------

  async planCreate(kind: BackupKind) {
    const name = backupName(this.inventory.backups.naming, this.clock.now(), this.inventory.timezone);
    const tools = this.erpServer.tools;
    return {
      database: this.erpDatabase,
      via: tools.via,
      command: `${tools.describe('pg_dump', this.erpDatabase)} | parallel gzip -${this.inventory.backups.compressionLevel} (${this.threads()} threads)`,
      directory: this.directory,
      fileName: `${name} (a suffix _2, _3 … if taken; written as a temporary file and renamed after success)`,
      kind,
    };
  }

  /** A backup name free in the directory and among the live catalog entries. */
  private async freeFileName(): Promise<string> {
    const live = await this.catalog.find({ where: { deletedAt: IsNull() }, select: { fileName: true } });
    const name = backupName(this.inventory.backups.naming, this.clock.now(), this.inventory.timezone);
    return freeName(this.directory, name, new Set(live.map((e) => e.fileName)));
  }

  /** Dumps the ERP database into a new backup file and catalogs it (see dumpToFile). */
  async create(kind: BackupKind, work: Work): Promise<BackupEntity> {
    const started = performance.now();
    await mkdir(this.directory, { recursive: true });
    const [databaseSizeBytes, serverVersion] = await Promise.all([
      this.targetDb.databaseSize(SQL_CALL),
      this.targetDb.ping(SQL_CALL).then((p) => p.serverVersion),
    ]);
    const fileName = await this.freeFileName();
    const dumped = await dumpToFile(
      {
        tools: this.erpServer.tools,
        database: this.erpDatabase,
        directory: this.directory,
        fileName,
        level: this.inventory.backups.compressionLevel,
        threads: this.threads(),
        databaseSizeBytes,
        endSession: (appName) => this.erpServer.terminateApplication(appName, SQL_CALL),
      },
      work,
    );
    const entry = this.catalog.create({
      id: randomUUID(),
      fileName,
      kind,
      sizeBytes: dumped.bytes,
      sha256: dumped.sha256,
      databaseName: this.erpDatabase,
      databaseSizeBytes,
      serverVersion,
      dumpVia: this.erpServer.tools.via,
      exitStatus: dumped.exit,
      durationMs: Math.round(performance.now() - started),
      uncompressedBytes: dumped.scanner.bytes,
      rowCounts: dumped.scanner.rowCounts,
      runId: work.runId,
      createdAt: this.clock.now(),
      verifyStatus: 'unverified',
      verifiedAt: null,
      verifyError: null,
      drillDurationMs: null,
      deletedAt: null,
      deletedBy: null,
    });
    try {
      await this.catalog.insert(entry);
    } catch (error) {
      // No catalog entry: no file with a backup's name either.
      await unlink(join(this.directory, fileName)).catch(() => undefined);
      throw error;
    }
    work.progress({ phase: 'done', bytesDumped: dumped.scanner.bytes, bytesWritten: dumped.bytes, percent: 100 });
    return entry;
  }

  // ---- restore (drill or real) -------------------------------------------------------------

  /**
   * Restores a backup file into a database of the ERP's server in one transaction (see
   * restoreStream: COMMIT only after the whole file matched). Returns the restore's duration.
   */
  async restoreFile(entry: BackupEntity, database: string, work: Work, options: { force?: boolean; phase: string }) {
    return restoreStream(entry, { server: this.erpServer, database, directory: this.directory }, work, options);
  }

  // ---- verify ------------------------------------------------------------------------------

  planVerify(entry: BackupEntity) {
    return {
      backup: { id: entry.id, fileName: entry.fileName, sizeBytes: entry.sizeBytes, sha256: entry.sha256 },
      checks: ['size and SHA-256 against the catalog', 'complete gzip stream', "pg_dump's completion marker"],
      drill: {
        server: this.drillServer.server,
        scratchDatabase: 'erp_drill_<run> (created, restored into, counted, dropped)',
        command: this.drillServer.tools.describe('psql', 'erp_drill_<run>'),
      },
      compare: `row counts of ${Object.keys(entry.rowCounts).length} tables recorded at dump time`,
    };
  }

  /** The file is there, has the catalog's size and SHA-256. */
  private async checkFile(entry: BackupEntity, work: Work): Promise<void> {
    const file = await stat(join(this.directory, entry.fileName)).catch(() => null);
    if (!file) throw new Error(`the file ${entry.fileName} is missing from ${this.directory}`);
    if (file.size !== entry.sizeBytes) throw new Error(`the file has ${file.size} bytes, the catalog recorded ${entry.sizeBytes}`);
    work.progress({ phase: 'checksum' });
    const { sha256 } = await sha256File(join(this.directory, entry.fileName), work.signal);
    if (sha256 !== entry.sha256)
      throw new Error(`the file's SHA-256 is ${sha256}, the catalog recorded ${entry.sha256}: the file is corrupted`);
  }

  /** Restores the backup into a scratch database of the drill server and compares row counts. */
  private async drill(entry: BackupEntity, scratch: string, work: Work): Promise<{ durationMs: number }> {
    await this.drillServer.createScratch(scratch, SQL_CALL);
    const target = { server: this.drillServer, database: scratch, directory: this.directory };
    const restored = await restoreStream(entry, target, work, { phase: 'drill' });
    const counts = await this.drillServer.countScratch(scratch, Object.keys(entry.rowCounts), { timeoutMs: 300_000 });
    const differences = Object.entries(entry.rowCounts)
      .filter(([table, n]) => counts[table] !== n)
      .map(([table, n]) => `${table}: recorded ${n}, restored ${counts[table]}`);
    if (differences.length) throw new Error(`row counts differ after the restore drill: ${differences.slice(0, 10).join('; ')}`);
    return restored;
  }

  async verify(id: string, work: Work): Promise<BackupEntity> {
    const entry = await this.entry(id);
    const scratch = `erp_drill_${work.runId.replace(/-/g, '').slice(0, 12)}`;
    try {
      await this.checkFile(entry, work);
      const restored = await this.drill(entry, scratch, work);
      await this.catalog.update(
        { id: entry.id },
        { verifyStatus: 'verified', verifiedAt: this.clock.now(), verifyError: null, drillDurationMs: restored.durationMs },
      );
      return this.entry(entry.id);
    } catch (error) {
      const message = (error as Error).message.slice(0, 2000);
      if (!work.signal.aborted)
        await this.catalog.update({ id: entry.id }, { verifyStatus: 'failed', verifyError: message, verifiedAt: null });
      throw error;
    } finally {
      await this.drillServer.dropScratch(scratch, SQL_CALL).catch(() => undefined);
    }
  }

  // ---- retention and delete ------------------------------------------------------------------

  async retentionPlan(mode: 'window' | 'disk-pressure', retentionDays: number, keepLast: number): Promise<RetentionPlan> {
    const entries = await this.catalog.find({ where: { deletedAt: IsNull() }, order: { createdAt: 'DESC', id: 'DESC' } });
    const files = await listDirectory(this.directory);
    return retentionPlanOf(entries, files, { mode, retentionDays, keepLast }, this.clock.now());
  }

  /** Removes a catalog entry's file and marks the entry deleted (the row stays for history). */
  async remove(id: string, by: string): Promise<BackupEntity> {
    const entry = await this.entry(id);
    const newestVerified = await this.newestVerified();
    if (newestVerified?.id === entry.id) {
      throw new DomainError(
        ErrorCode.Conflict,
        `backup ${id} (${entry.fileName}) is the newest verified backup and is never deleted; verify a newer one first`,
        { id },
      );
    }
    await unlink(join(this.directory, entry.fileName)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await this.catalog.update({ id: entry.id }, { deletedAt: this.clock.now(), deletedBy: by });
    return this.entry(entry.id, { allowDeleted: true });
  }

  /** A catalog entry as the API shows it. */
  describe(e: BackupEntity, fileOnDisk = true): CatalogItem {
    return catalogItem(e, this.clock.now(), fileOnDisk);
  }

  async describeWithFile(e: BackupEntity): Promise<CatalogItem> {
    const present = await stat(join(this.directory, e.fileName)).then(
      () => true,
      () => false,
    );
    return this.describe(e, present);
  }

  // ---- listing -----------------------------------------------------------------------------

  /** The catalog plus files on disk the catalog does not know, newest first. */
  async list(filter: {
    limit?: number;
    cursor?: string;
    includeDeleted?: boolean;
  }): Promise<{ items: CatalogItem[]; nextCursor: string | null; unknownFiles: CatalogItem[] }> {
    const size = pageSize(filter.limit);
    const qb = this.catalog
      .createQueryBuilder('b')
      .orderBy('b.createdAt', 'DESC')
      .addOrderBy('b.id', 'DESC')
      .take(size + 1);
    if (!filter.includeDeleted) qb.andWhere('b.deleted_at IS NULL');
    const after = decodeCursor(filter.cursor, ['date', 'uuid']);
    if (after) qb.andWhere('(b.created_at, b.id) < (:at, :id)', { at: new Date(after[0]), id: after[1] });
    const rows = await qb.getMany();
    const page = rows.slice(0, size);
    const files = await listDirectory(this.directory);
    const onDisk = new Map(files.map((f) => [f.name, f]));
    const now = this.clock.now();
    const items = page.map((e) => catalogItem(e, now, onDisk.has(e.fileName)));
    const last = page[page.length - 1];
    let unknownFiles: CatalogItem[] = [];
    if (!filter.cursor) {
      const live = await this.catalog.find({ where: { deletedAt: IsNull() }, select: { fileName: true } });
      const known = new Set(live.map((e) => e.fileName));
      const naming = namingPattern(this.inventory.backups.naming);
      unknownFiles = files
        .filter((f) => !known.has(f.name))
        .sort((a, b) => b.modifiedAt.getTime() - a.modifiedAt.getTime())
        .map((f) => unknownFileItem(f, now, naming));
    }
    return { items, nextCursor: rows.length > size ? encodeCursor([last.createdAt.toISOString(), last.id]) : null, unknownFiles };
  }

  async analyze(): Promise<void> {
    await this.targetDb.analyze({ timeoutMs: 3_600_000 });
  }

  /** For metrics: the newest successful backup (deleted or not) and the newest verification. */
  /** What the checklist's backups item reads: the newest verified backup, and the newest two (not deleted). */
  async freshness(): Promise<BackupFreshness> {
    const live = { deletedAt: IsNull() };
    const [newestVerified, newest] = await Promise.all([
      this.catalog.findOne({ where: { ...live, verifyStatus: 'verified' }, order: { createdAt: 'DESC', id: 'DESC' } }),
      this.catalog.find({ where: live, order: { createdAt: 'DESC', id: 'DESC' }, take: 2 }),
    ]);
    return { newestVerified, newest: newest[0] ?? null, previous: newest[1] ?? null };
  }

  /** For the ERP's backup rules: the newest backup still there (a deleted one cannot be restored) and the last verification of one. */
  async metricsSnapshot(): Promise<{ lastSuccessful: BackupEntity | null; lastVerifiedAt: Date | null }> {
    const live = { deletedAt: IsNull() };
    const lastSuccessful = await this.catalog.findOne({ where: live, order: { createdAt: 'DESC', id: 'DESC' } });
    const verified = await this.catalog.findOne({ where: { ...live, verifyStatus: 'verified' }, order: { verifiedAt: 'DESC' } });
    return { lastSuccessful, lastVerifiedAt: verified?.verifiedAt ?? null };
  }
}
