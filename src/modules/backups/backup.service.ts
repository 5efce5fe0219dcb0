import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, unlink } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { Clock } from '../../common/clock';
import { DomainError, ErrorCode } from '../../common/errors';
import { decodeCursor, encodeCursor, pageSize } from '../../common/pagination';
import { INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { DockerPort, TargetDatabasePort } from '../../integrations/contracts';
import { DOCKER, TARGET_DB } from '../../integrations/integrations.module';
import { TargetDatabase } from '../../integrations/target-db/target-database';
import { AtomicFileWriter, backupName, freeName, listDirectory, namingPattern, sha256File } from './backup-files';
import { BackupEntity, BackupKind } from './backup.entity';
import { dumpComplete, DumpScanner } from './dump-scanner';
import { StreamGarbageCollector } from './stream-garbage-collector';
import { ParallelGzip } from './parallel-gzip';
import { databaseOf, LocalPgTools, PgTools, pgToolsFor, ToolProcess } from './pg-tools';

const SQL_CALL = { timeoutMs: 30_000 };

/** What a step gives the service: its run, abort signal and progress reporter. */
export interface Work {
  runId: string;
  signal: AbortSignal;
  progress(update: Record<string, unknown>): void;
}

export interface RetentionPlan {
  mode: 'window' | 'disk-pressure';
  rule: string;
  delete: { id: string; fileName: string; createdAt: string; sizeBytes: number; reason: string }[];
  keep: { id: string; fileName: string; reason: string }[];
  /** Files in the directory the catalog does not know: listed, never deleted. */
  unknownFiles: { fileName: string; sizeBytes: number; modifiedAt: string }[];
  /** Catalog entries whose file is gone from the directory. */
  missingFiles: { id: string; fileName: string }[];
}

export interface CatalogItem {
  id: string | null;
  fileName: string;
  known: boolean;
  kind: BackupKind | null;
  createdAt: string;
  ageSeconds: number;
  sizeBytes: number;
  sha256: string | null;
  verifyStatus: string;
  verifiedAt: string | null;
  verifyError: string | null;
  drillDurationMs: number | null;
  databaseName: string | null;
  databaseSizeBytes: number | null;
  serverVersion: string | null;
  durationMs: number | null;
  dumpVia: string | null;
  rowCounts: Record<string, number> | null;
  runId: string | null;
  fileMissing: boolean;
}

/** Throttles progress reports to one per interval. */
function throttled(report: (u: Record<string, unknown>) => void, ms = 1000) {
  let last = 0;
  return (update: Record<string, unknown>, force = false) => {
    const now = Date.now();
    if (force || now - last >= ms) {
      last = now;
      report(update);
    }
  };
}

function toolError(tool: string, exit: number | null, stderr: string): string {
  const text = stderr.replace(/\s+/g, ' ').trim().slice(0, 1500);
  return `${tool} failed (exit status ${exit ?? 'unknown: the process or its container went away'})${text ? `: ${text}` : ''}`;
}

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
    @Inject(DOCKER) private readonly docker: DockerPort,
    @Inject(TARGET_DB) private readonly targetDb: TargetDatabasePort,
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

  tools(): PgTools {
    return pgToolsFor(this.inventory, this.docker);
  }

  /** psql's target for a restore into the ERP's own server. */
  erpTarget(): { tools: PgTools; admin: TargetDatabasePort } {
    return { tools: this.tools(), admin: this.targetDb };
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
    return {
      database: this.erpDatabase,
      via: this.tools().via,
      command: `${this.tools().describe('pg_dump', this.erpDatabase)} | parallel gzip -${this.inventory.backups.compressionLevel} (${this.threads()} threads)`,
      directory: this.directory,
      fileName: `${name} (a suffix _2, _3 … if taken; written as a temporary file and renamed after success)`,
      kind,
    };
  }

  async create(kind: BackupKind, work: Work): Promise<BackupEntity> {
    const started = performance.now();
    await mkdir(this.directory, { recursive: true });
    const [databaseSizeBytes, serverVersion] = await Promise.all([
      this.targetDb.databaseSize(SQL_CALL),
      this.targetDb.ping(SQL_CALL).then((p) => p.serverVersion),
    ]);
    const live = await this.catalog.find({ where: { deletedAt: IsNull() }, select: { fileName: true } });
    const fileName = await freeName(
      this.directory,
      backupName(this.inventory.backups.naming, this.clock.now(), this.inventory.timezone),
      new Set(live.map((e) => e.fileName)),
    );
    const tempName = `.${fileName}.partial-${work.runId.slice(0, 8)}-${randomBytes(3).toString('hex')}`;
    const writer = await AtomicFileWriter.create(this.directory, tempName);
    const scanner = new DumpScanner();
    const bound = new StreamGarbageCollector();
    const gzip = new ParallelGzip({
      level: this.inventory.backups.compressionLevel,
      concurrency: this.threads() + 1,
      onInput: (c) => {
        scanner.write(c);
        bound.passed(c.length);
      },
    });
    const report = throttled(work.progress);
    const timer = setInterval(
      () =>
        report({
          phase: 'dump',
          bytesDumped: gzip.inputBytes,
          bytesWritten: writer.bytes,
          rows: Object.values(scanner.rowCounts).reduce((a, b) => a + b, 0),
          percent: databaseSizeBytes ? Math.min(99, Math.round((gzip.inputBytes / databaseSizeBytes) * 100)) : null,
        }),
      1000,
    );
    timer.unref();
    let tool: ToolProcess | undefined;
    const appName = `erp-ops-backup-${work.runId.slice(0, 8)}`;
    try {
      tool = await this.tools().dump(this.erpDatabase, work.signal, appName);
      await pipeline(tool.stdout, gzip, writer.sink(), { signal: work.signal });
      const exit = await tool.exit;
      if (exit !== 0) throw new Error(toolError('pg_dump', exit, tool.stderr()));
      if (!scanner.complete())
        throw new Error(
          `pg_dump's output ended without its completion marker (${scanner.unterminatedCopy ? `inside the data of ${scanner.unterminatedCopy}` : 'truncated'}); ${toolError('pg_dump', exit, tool.stderr())}`,
        );
      const { sha256, bytes } = await writer.commit(fileName);
      const entry = this.catalog.create({
        id: randomUUID(),
        fileName,
        kind,
        sizeBytes: bytes,
        sha256,
        databaseName: this.erpDatabase,
        databaseSizeBytes,
        serverVersion,
        dumpVia: this.tools().via,
        exitStatus: exit,
        durationMs: Math.round(performance.now() - started),
        uncompressedBytes: scanner.bytes,
        rowCounts: scanner.rowCounts,
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
      report({ phase: 'done', bytesDumped: scanner.bytes, bytesWritten: bytes, percent: 100 }, true);
      return entry;
    } catch (error) {
      tool?.abort();
      // pg_dump waiting on a lock notices nothing: end its server session too.
      await this.targetDb.terminateApplication(appName, SQL_CALL).catch(() => undefined);
      await writer.discard();
      if (work.signal.aborted) throw new Error('cancelled: the dump was stopped and its partial file removed');
      if (tool && !(error instanceof Error && error.message.startsWith('pg_dump'))) {
        const exit = await Promise.race([tool.exit, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
        throw new Error(`${(error as Error).message}; ${toolError('pg_dump', exit, tool.stderr())}`);
      }
      throw error;
    } finally {
      clearInterval(timer);
    }
  }

  // ---- restore (drill or real) -------------------------------------------------------------

  /**
   * Streams a backup file into psql in one transaction: BEGIN, the dump, and COMMIT only
   * after the whole file was read, its SHA-256 matched (unless forced) and pg_dump's
   * completion marker was seen. Anything else ends psql's input without COMMIT, so the
   * server rolls everything back. Returns the restore's duration.
   */
  async restoreFile(
    entry: BackupEntity,
    target: { tools: PgTools; admin: TargetDatabasePort },
    database: string,
    work: Work,
    options: { force?: boolean; phase: string },
  ): Promise<{ durationMs: number }> {
    const { tools, admin } = target;
    const appName = `erp-ops-restore-${work.runId.slice(0, 8)}`;
    const path = join(this.directory, entry.fileName);
    const file = await stat(path).catch(() => null);
    if (!file) throw new Error(`the file ${entry.fileName} is missing from ${this.directory}`);
    if (file.size !== entry.sizeBytes && !options.force)
      throw new Error(
        `the file ${entry.fileName} has ${file.size} bytes, the catalog recorded ${entry.sizeBytes}: it changed since the backup`,
      );
    const started = performance.now();
    const hash = createHash('sha256');
    // Only the stream's end matters here (pg_dump's completion marker): no per-line work.
    let tail: Buffer = Buffer.alloc(0);
    let readBytes = 0;
    const report = throttled(work.progress);
    const tap = new Transform({
      transform(chunk: Buffer, _e, callback) {
        hash.update(chunk);
        readBytes += chunk.length;
        report({
          phase: options.phase,
          bytesRead: readBytes,
          percent: Math.min(99, Math.round((readBytes / Math.max(1, file.size)) * 100)),
        });
        callback(null, chunk);
      },
    });
    let began = false;
    const wrap = new Transform({
      transform(chunk: Buffer, _e, callback) {
        tail = chunk.length >= 512 ? chunk.subarray(chunk.length - 512) : Buffer.concat([tail, chunk]).subarray(-512);
        if (!began) {
          began = true;
          this.push('BEGIN;\n');
        }
        callback(null, chunk);
      },
      flush(callback) {
        const sha = hash.digest('hex');
        if (sha !== entry.sha256 && !options.force)
          return callback(
            new Error(`the file's SHA-256 is ${sha}, the catalog recorded ${entry.sha256}: the file is corrupted; nothing was committed`),
          );
        if (!dumpComplete(tail))
          return callback(new Error('the dump in the file is incomplete (no pg_dump completion marker); nothing was committed'));
        callback(null, 'COMMIT;\n');
      },
    });
    const psql = await tools.psql(database, work.signal, appName);
    psql.stdout.resume();
    try {
      await pipeline(
        createReadStream(path, { highWaterMark: 1024 * 1024 }),
        tap,
        createGunzip({ chunkSize: 256 * 1024 }),
        wrap,
        psql.stdin!,
        { signal: work.signal },
      );
    } catch (error) {
      psql.abort();
      // Whatever psql does, its session ends here: the open transaction rolls back.
      await admin.terminateApplication(appName, SQL_CALL).catch(() => undefined);
      const exit = await Promise.race([psql.exit, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      const reason = work.signal.aborted ? 'cancelled' : (error as Error).message;
      const detail = psql.stderr().trim() ? `; ${toolError('psql', exit, psql.stderr())}` : '';
      throw new Error(
        `restore into ${database} stopped: ${reason.replace(/^incorrect header check$|^unexpected end of file$/, (m) => `the file is not a complete gzip stream (${m})`)}${detail}; the transaction was rolled back`,
      );
    }
    const exit = await psql.exit;
    if (exit !== 0) throw new Error(`${toolError('psql', exit, psql.stderr())}; the transaction was rolled back`);
    report({ phase: options.phase, bytesRead: readBytes, percent: 100 }, true);
    return { durationMs: Math.round(performance.now() - started) };
  }

  // ---- verify ------------------------------------------------------------------------------

  planVerify(entry: BackupEntity) {
    const drill = this.drillTarget();
    return {
      backup: { id: entry.id, fileName: entry.fileName, sizeBytes: entry.sizeBytes, sha256: entry.sha256 },
      checks: ['size and SHA-256 against the catalog', 'complete gzip stream', "pg_dump's completion marker"],
      drill: {
        server: drill.server,
        scratchDatabase: 'erp_drill_<run> (created, restored into, counted, dropped)',
        command: drill.tools.describe('psql', 'erp_drill_<run>'),
      },
      compare: `row counts of ${Object.keys(entry.rowCounts).length} tables recorded at dump time`,
    };
  }

  private drillTarget(): { admin: TargetDatabasePort; tools: PgTools; server: string; own: boolean } {
    const url = this.inventory.backups.drillDatabaseUrl;
    if (url) {
      const c = databaseOf(url);
      return {
        admin: new TargetDatabase(url, { max: 1, system: 'drill-database' }),
        tools: new LocalPgTools(url, this.inventory.backups.pgBinDir),
        server: `${c.host}:${c.port}`,
        own: true,
      };
    }
    const c = databaseOf(this.inventory.erpDatabase.url);
    return { admin: this.targetDb, tools: this.tools(), server: `${c.host}:${c.port} (the ERP's server)`, own: false };
  }

  async verify(id: string, work: Work): Promise<BackupEntity> {
    const entry = await this.entry(id);
    const drill = this.drillTarget();
    const scratch = `erp_drill_${work.runId.replace(/-/g, '').slice(0, 12)}`;
    try {
      const file = await stat(join(this.directory, entry.fileName)).catch(() => null);
      if (!file) throw new Error(`the file ${entry.fileName} is missing from ${this.directory}`);
      if (file.size !== entry.sizeBytes) throw new Error(`the file has ${file.size} bytes, the catalog recorded ${entry.sizeBytes}`);
      work.progress({ phase: 'checksum' });
      const { sha256 } = await sha256File(join(this.directory, entry.fileName), work.signal);
      if (sha256 !== entry.sha256)
        throw new Error(`the file's SHA-256 is ${sha256}, the catalog recorded ${entry.sha256}: the file is corrupted`);
      await drill.admin.dropDatabase(scratch, SQL_CALL);
      await drill.admin.createDatabase(scratch, SQL_CALL);
      const restored = await this.restoreFile(entry, drill, scratch, work, { phase: 'drill' });
      const scratchDb = drill.admin.withDatabase(scratch);
      let counts: Record<string, number>;
      try {
        counts = await scratchDb.countQualified(Object.keys(entry.rowCounts), { timeoutMs: 300_000 });
      } finally {
        await scratchDb.close();
      }
      const differences = Object.entries(entry.rowCounts)
        .filter(([table, n]) => counts[table] !== n)
        .map(([table, n]) => `${table}: recorded ${n}, restored ${counts[table]}`);
      if (differences.length) throw new Error(`row counts differ after the restore drill: ${differences.slice(0, 10).join('; ')}`);
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
      await drill.admin.dropDatabase(scratch, SQL_CALL).catch(() => undefined);
      if (drill.own) await drill.admin.close();
    }
  }

  // ---- retention and delete ------------------------------------------------------------------

  async retentionPlan(mode: 'window' | 'disk-pressure', retentionDays: number, keepLast: number): Promise<RetentionPlan> {
    const entries = await this.catalog.find({ where: { deletedAt: IsNull() }, order: { createdAt: 'DESC', id: 'DESC' } });
    const files = await listDirectory(this.directory);
    const onDisk = new Set(files.map((f) => f.name));
    const known = new Set(entries.map((e) => e.fileName));
    const newestVerified = entries.find((e) => e.verifyStatus === 'verified');
    const cutoff = this.clock.now().getTime() - retentionDays * 86_400_000;
    const plan: RetentionPlan = {
      mode,
      rule: mode === 'window' ? `delete backups older than ${retentionDays} days` : `disk pressure: keep only the newest ${keepLast}`,
      delete: [],
      keep: [],
      unknownFiles: files
        .filter((f) => !known.has(f.name))
        .map((f) => ({ fileName: f.name, sizeBytes: f.bytes, modifiedAt: f.modifiedAt.toISOString() })),
      missingFiles: entries.filter((e) => !onDisk.has(e.fileName)).map((e) => ({ id: e.id, fileName: e.fileName })),
    };
    entries.forEach((e, index) => {
      const expired = mode === 'window' ? e.createdAt.getTime() < cutoff : index >= keepLast;
      if (!expired)
        plan.keep.push({
          id: e.id,
          fileName: e.fileName,
          reason: mode === 'window' ? `within ${retentionDays} days` : `among the newest ${keepLast}`,
        });
      else if (e.id === newestVerified?.id)
        plan.keep.push({ id: e.id, fileName: e.fileName, reason: 'the newest verified backup is never deleted' });
      else
        plan.delete.push({
          id: e.id,
          fileName: e.fileName,
          createdAt: e.createdAt.toISOString(),
          sizeBytes: e.sizeBytes,
          reason: mode === 'window' ? `older than ${retentionDays} days` : `beyond the newest ${keepLast}`,
        });
    });
    return plan;
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
    const now = this.clock.now().getTime();
    return {
      id: e.id,
      fileName: e.fileName,
      known: true,
      kind: e.kind,
      createdAt: e.createdAt.toISOString(),
      ageSeconds: Math.max(0, Math.round((now - e.createdAt.getTime()) / 1000)),
      sizeBytes: e.sizeBytes,
      sha256: e.sha256,
      verifyStatus: e.deletedAt ? 'deleted' : e.verifyStatus,
      verifiedAt: e.verifiedAt?.toISOString() ?? null,
      verifyError: e.verifyError,
      drillDurationMs: e.drillDurationMs,
      databaseName: e.databaseName,
      databaseSizeBytes: e.databaseSizeBytes,
      serverVersion: e.serverVersion,
      durationMs: e.durationMs,
      dumpVia: e.dumpVia,
      rowCounts: e.rowCounts,
      runId: e.runId,
      fileMissing: !e.deletedAt && !fileOnDisk,
    };
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
    const now = this.clock.now().getTime();
    const items = page.map((e) => this.describe(e, onDisk.has(e.fileName)));
    const last = page[page.length - 1];
    let unknownFiles: CatalogItem[] = [];
    if (!filter.cursor) {
      const known = new Set(
        (await this.catalog.find({ where: { deletedAt: IsNull() }, select: { fileName: true } })).map((e) => e.fileName),
      );
      const naming = namingPattern(this.inventory.backups.naming);
      unknownFiles = files
        .filter((f) => !known.has(f.name))
        .sort((a, b) => b.modifiedAt.getTime() - a.modifiedAt.getTime())
        .map((f) => ({
          id: null,
          fileName: f.name,
          known: false,
          kind: null,
          createdAt: f.modifiedAt.toISOString(),
          ageSeconds: Math.max(0, Math.round((now - f.modifiedAt.getTime()) / 1000)),
          sizeBytes: f.bytes,
          sha256: null,
          verifyStatus: naming.test(f.name) ? 'unknown: named like a backup but not in the catalog' : 'unknown: not in the catalog',
          verifiedAt: null,
          verifyError: null,
          drillDurationMs: null,
          databaseName: null,
          databaseSizeBytes: null,
          serverVersion: null,
          durationMs: null,
          dumpVia: null,
          rowCounts: null,
          runId: null,
          fileMissing: false,
        }));
    }
    return { items, nextCursor: rows.length > size ? encodeCursor([last.createdAt.toISOString(), last.id]) : null, unknownFiles };
  }

  async analyze(): Promise<void> {
    await this.targetDb.analyze({ timeoutMs: 3_600_000 });
  }

  /** For metrics: the newest successful backup (deleted or not) and the newest verification. */
  async metricsSnapshot(): Promise<{ lastSuccessful: BackupEntity | null; lastVerifiedAt: Date | null }> {
    const lastSuccessful = await this.catalog.findOne({ where: {}, order: { createdAt: 'DESC' } });
    const verified = await this.catalog.findOne({ where: { verifyStatus: 'verified' }, order: { verifiedAt: 'DESC' } });
    return { lastSuccessful, lastVerifiedAt: verified?.verifiedAt ?? null };
  }
}
