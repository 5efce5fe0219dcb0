/**
 * Runbook "Common Issues: Issue 3: PostgreSQL Out of Disk Space" as a procedure:
 *   1. df of the data paths and the backup directory
 *   2. keep only the last N backups (the backups module's disk-pressure retention: never the
 *      newest verified one)
 *   3. VACUUM ANALYZE of the ERP database (autocommit: VACUUM cannot run in a transaction)
 *   4. archive every service's last log lines (never overwriting an archive)
 *   5. remove stopped containers that are not inventory services, and dangling images
 *   6. df again: free space against thresholds.freeDiskGbMin; still short → escalate
 *      (DevOps: expand the disk, or move backups to external storage).
 *
 * Domain `database`: it deletes backups (backup.retention, backups.delete: P2 database) and
 * vacuums the ERP database; at P2 the same roles hold it as on `system` (senior_dev, dba).
 */
import { constants } from 'node:fs';
import { link, mkdir, open, stat, statfs, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { Inventory, Severity } from '../../../config/inventory.schema';
import { ContainerSummary, ImageSummary } from '../../../integrations/contracts';
import { EscalationError, ProcedureDefinition, StepContext, StepOutput } from '../../../procedures/procedure';
import { RunEntity, StepEntity } from '../../../procedures/run.entity';
import { withSuffix, zonedParts } from '../../backups/backup-files';
import { databaseOf } from '../../../integrations/target-db/pg-tools';
import { RemediationDeps } from '../remediation-deps';

const MINUTE = 60_000;
const GIB = 2 ** 30;
/** Container states `docker container prune` removes. */
const STOPPED = ['created', 'exited', 'dead'];

const wholeNumber = (what: string, min: number, max: number, example: number) => {
  const error = `must be a whole number of ${what} from ${min} to ${max}, for example ${example}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

export const diskCleanupParameters = z
  .object({
    /** Backups kept (newest first); default the inventory's backups.keepLastOnCleanup. */
    keepLast: wholeNumber('backups', 1, 1000, 3).optional(),
    /** Log lines archived per service; default the inventory's cleanup.logLines. */
    logLines: wholeNumber('log lines', 1, 10000, 10000).optional(),
  })
  .strict();
export type DiskCleanupParameters = z.infer<typeof diskCleanupParameters>;

export interface DiskUsage {
  /** The path asked about. */
  path: string;
  /** The path statfs read: the path itself, or its nearest existing parent when it does not exist yet. */
  measuredAt: string;
  /** st_dev of measuredAt: paths with the same device share one file system. */
  device: number;
  sizeBytes: number;
  usedBytes: number;
  freeBytes: number;
  /** As df computes it (and the health module's metric:disk): used / (used + available to unprivileged users). */
  usedPercent: number;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
const gib = (bytes: number) => round(bytes / GIB, 2);

async function nearestExisting(path: string): Promise<string> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await stat(p);
      return p;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || p === dirname(p)) throw error;
    }
  }
}

/** df of one path (of its nearest existing parent when it does not exist yet). */
export async function diskUsage(path: string): Promise<DiskUsage> {
  const measuredAt = await nearestExisting(path);
  const [fs, info] = await Promise.all([statfs(measuredAt), stat(measuredAt)]);
  const used = (fs.blocks - fs.bfree) * fs.bsize;
  const free = fs.bavail * fs.bsize;
  return {
    path,
    measuredAt,
    device: Number(info.dev),
    sizeBytes: fs.blocks * fs.bsize,
    usedBytes: used,
    freeBytes: free,
    usedPercent: used + free > 0 ? round((used / (used + free)) * 100) : 0,
  };
}

/** The paths the runbook's `df` looks at: the inventory's data paths, the backup and the archive directories. */
export function cleanupPaths(inventory: Inventory): string[] {
  return [...new Set([...inventory.stack.dataPaths, inventory.backups.directory, inventory.cleanup.archiveDirectory])];
}

async function measure(paths: string[]): Promise<{ paths: (DiskUsage | { path: string; error: string })[]; usable: DiskUsage[] }> {
  const results = await Promise.all(
    paths.map((path) =>
      diskUsage(path).catch((error: NodeJS.ErrnoException) => ({
        path,
        error: `cannot read its disk usage: ${error.code ?? error.message}`,
      })),
    ),
  );
  const usable = results.filter((r): r is DiskUsage => !('error' in r));
  if (!usable.length)
    throw new Error(
      `cannot read the disk usage of any of ${paths.join(', ')}: ${results.map((r) => ('error' in r ? `${r.path}: ${r.error}` : '')).join('; ')}`,
    );
  return { paths: results, usable };
}

function describeUsage(u: DiskUsage): Record<string, unknown> {
  return { ...u, sizeGiB: gib(u.sizeBytes), usedGiB: gib(u.usedBytes), freeGiB: gib(u.freeBytes) };
}

/** One entry per file system (paths on the same device counted once). */
function byFileSystem(usages: DiskUsage[]): Map<number, DiskUsage & { paths: string[] }> {
  const out = new Map<number, DiskUsage & { paths: string[] }>();
  for (const u of usages) {
    const seen = out.get(u.device);
    if (seen) seen.paths.push(u.path);
    else out.set(u.device, { ...u, paths: [u.path] });
  }
  return out;
}

/** The archive file name for a time: logs_backup_YYYYMMDD_HHMMSS.txt in the inventory's time zone. */
export function archiveName(date: Date, timeZone: string): string {
  const p = zonedParts(date, timeZone);
  return `logs_backup_${p.YYYY}${p.MM}${p.DD}_${p.HH}${p.mm}${p.ss}.txt`;
}

async function fileSize(path: string): Promise<number | null> {
  return stat(path).then(
    (s) => s.size,
    () => null,
  );
}

/** Runs a step's work; an error (an escalation aside) says what failed and what to do next. */
async function explained<T>(what: string, advice: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof EscalationError) throw error;
    throw new Error(`${what} failed: ${(error as Error).message}; ${advice}`);
  }
}

export function diskCleanupProcedure(deps: RemediationDeps): ProcedureDefinition<DiskCleanupParameters> {
  const { inventory, backups, docker, targetDb, dataSource, clock } = deps;
  const erpDb = databaseOf(inventory.erpDatabase.url).database;
  const keepLastOf = (p: DiskCleanupParameters) => p.keepLast ?? inventory.backups.keepLastOnCleanup;
  const logLinesOf = (p: DiskCleanupParameters) => p.logLines ?? inventory.cleanup.logLines;
  const serviceContainers = new Set(inventory.stack.services.map((s) => s.container));
  const serviceNames = new Set(inventory.stack.services.map((s) => s.name));
  const requester = async (runId: string) =>
    (await dataSource.getRepository(RunEntity).findOne({ where: { id: runId } }))?.requestedBy ?? 'disk.cleanup';
  const call = (ctx: StepContext<unknown>, timeoutMs: number) => ({ timeoutMs, signal: ctx.signal });

  // ---- backups ------------------------------------------------------------------------------
  const backupPlan = async (p: DiskCleanupParameters) => {
    const plan = await backups.retentionPlan('disk-pressure', inventory.backups.retentionDays, keepLastOf(p));
    const newestVerified = await backups.newestVerified();
    const remove = await Promise.all(
      plan.delete.map(async (d) => ({
        ...d,
        sizeBytes: (await fileSize(join(backups.directory, d.fileName))) ?? 0,
        catalogSizeBytes: d.sizeBytes,
      })),
    );
    return {
      directory: backups.directory,
      rule: plan.rule,
      delete: remove,
      keep: plan.keep,
      newestVerified: newestVerified ? { id: newestVerified.id, fileName: newestVerified.fileName } : null,
      unknownFiles: plan.unknownFiles,
      missingFiles: plan.missingFiles,
      bytesToFree: remove.reduce((sum, d) => sum + d.sizeBytes, 0),
    };
  };

  // ---- prune --------------------------------------------------------------------------------
  /** Why a container must never be pruned (an inventory service's container), or null. */
  const protectedBecause = (c: ContainerSummary): string | null => {
    if (serviceContainers.has(c.name))
      return `the container of an inventory service (stack.services): a stopped service is someone's decision, not garbage`;
    const labels = c.labels;
    if (
      labels['com.docker.compose.project'] === inventory.stack.composeProject &&
      serviceNames.has(labels['com.docker.compose.service'] ?? '') &&
      labels['com.docker.compose.oneoff'] !== 'True'
    ) {
      return `a container of the compose service ${labels['com.docker.compose.service']} of project ${inventory.stack.composeProject}`;
    }
    return null;
  };
  const pruneTargets = async (ctx: StepContext<unknown>) => {
    const all = await docker.listContainers({ all: true, size: true }, call(ctx, 60_000));
    const images = await docker.listImages({ dangling: true }, call(ctx, 30_000));
    const stopped = all.filter((c) => STOPPED.includes(c.state));
    const containers = stopped.filter((c) => !protectedBecause(c));
    const kept = stopped
      .filter((c) => protectedBecause(c))
      .map((c) => ({ id: c.id.slice(0, 12), name: c.name, state: c.state, reason: protectedBecause(c) }));
    const removed = new Set(containers.map((c) => c.id));
    const staying = all.filter((c) => !removed.has(c.id));
    const usedBy = (i: ImageSummary) => staying.filter((c) => c.imageId === i.id).map((c) => c.name);
    return {
      containers,
      kept,
      images: images.filter((i) => usedBy(i).length === 0),
      imagesKept: images
        .filter((i) => usedBy(i).length > 0)
        .map((i) => ({ id: i.id, sizeBytes: i.sizeBytes, reason: `used by ${usedBy(i).join(', ')}` })),
    };
  };
  const showContainer = (c: ContainerSummary) => ({
    id: c.id.slice(0, 12),
    name: c.name,
    image: c.image,
    state: c.state,
    status: c.status,
    createdAt: c.createdAt,
    sizeBytes: c.sizeRwBytes ?? 0,
    oneOff: c.labels['com.docker.compose.oneoff'] === 'True',
  });
  const showImage = (i: ImageSummary) => ({ id: i.id, createdAt: i.createdAt, sizeBytes: i.sizeBytes });

  return {
    id: 'disk.cleanup',
    title: 'Free disk space: old backups, VACUUM ANALYZE, archive logs, prune stopped containers and dangling images (runbook Issue 3)',
    severity: 'P2',
    domain: 'database',
    parameters: diskCleanupParameters,
    // erp:postgres: no backup or restore (they write the backup directory) and no second vacuum
    // meanwhile; backups:retention: no retention run deleting the same backups.
    locks: () => ['erp:postgres', 'backups:retention'],
    requiresApproval: false,
    steps: [
      {
        id: 'usage',
        title: 'Disk usage (df) of the data paths, the backup and the archive directories',
        timeoutMs: 30_000,
        plan: async () => {
          const { paths } = await measure(cleanupPaths(inventory));
          return { paths: paths.map((u) => ('error' in u ? u : describeUsage(u))), freeDiskGbMin: inventory.thresholds.freeDiskGbMin };
        },
        run: () =>
          explained(
            'reading the disk usage',
            'check stack.dataPaths, backups.directory and cleanup.archiveDirectory in the inventory',
            async () => {
              const { paths, usable } = await measure(cleanupPaths(inventory));
              return {
                paths: paths.map((u) => ('error' in u ? u : describeUsage(u))),
                freeBytesMin: Math.min(...usable.map((u) => u.freeBytes)),
                reclaimedBytes: 0,
              };
            },
          ),
      },
      {
        id: 'backups',
        title: 'Delete backups beyond the newest N (never the newest verified one; unknown files only listed)',
        timeoutMs: 10 * MINUTE,
        plan: async (ctx) => backupPlan(ctx.parameters),
        run: (ctx) =>
          explained(
            'deleting old backups',
            `check ${backups.directory} and the backup catalog (GET /api/v1/backups); running the procedure again deletes only what is still beyond the newest ${keepLastOf(ctx.parameters)}`,
            async () => {
              const plan = await backupPlan(ctx.parameters);
              const by = await requester(ctx.runId);
              const deleted: { id: string; fileName: string; bytes: number }[] = [];
              const skipped: { fileName: string; reason: string }[] = [];
              for (const item of plan.delete) {
                if (ctx.signal.aborted) throw new Error(`cancelled after deleting ${deleted.length} backup(s)`);
                try {
                  const bytes = (await fileSize(join(backups.directory, item.fileName))) ?? 0;
                  await backups.remove(item.id, by);
                  deleted.push({ id: item.id, fileName: item.fileName, bytes });
                } catch (error) {
                  skipped.push({ fileName: item.fileName, reason: (error as Error).message });
                }
              }
              return {
                rule: plan.rule,
                deleted,
                skipped,
                kept: plan.keep,
                newestVerified: plan.newestVerified,
                unknownFiles: plan.unknownFiles,
                reclaimedBytes: deleted.reduce((sum, d) => sum + d.bytes, 0),
              };
            },
          ),
      },
      {
        id: 'vacuum',
        title: 'VACUUM ANALYZE of the ERP database (autocommit, never inside a transaction)',
        timeoutMs: 60 * MINUTE,
        plan: async (ctx) => ({
          database: erpDb,
          statement: 'VACUUM (ANALYZE)',
          transaction: 'none (autocommit)',
          databaseSizeBytes: await targetDb.databaseSize(call(ctx, 10_000)),
        }),
        run: async (ctx) => {
          const before = await targetDb.databaseSize(call(ctx, 10_000));
          const started = Date.now();
          try {
            await targetDb.vacuumAnalyze(call(ctx, 60 * MINUTE - 30_000));
          } catch (error) {
            throw new Error(
              `VACUUM (ANALYZE) of ${erpDb} failed: ${(error as Error).message}; the backups were already cleaned up; check the database (docker-compose logs postgres) and run the procedure again`,
            );
          }
          const after = await targetDb.databaseSize(call(ctx, 10_000));
          return {
            database: erpDb,
            sizeBeforeBytes: before,
            sizeAfterBytes: after,
            durationMs: Date.now() - started,
            reclaimedBytes: Math.max(0, before - after),
            note: "plain VACUUM makes dead rows' space reusable; it gives space back to the disk only from the end of a table",
          };
        },
      },
      {
        id: 'archive-logs',
        title: "Archive every service's last log lines to the archive directory (a new file, never overwritten)",
        timeoutMs: 10 * MINUTE,
        plan: async (ctx) => ({
          directory: inventory.cleanup.archiveDirectory,
          fileName: archiveName(clock.now(), inventory.timezone),
          linesPerService: logLinesOf(ctx.parameters),
          services: inventory.stack.services.map((s) => ({ service: s.name, container: s.container })),
        }),
        run: (ctx) =>
          explained(
            'archiving the logs',
            'set cleanup.archiveDirectory in the inventory to a writable directory with room (no half-written archive is left under its final name)',
            async () => {
              const directory = inventory.cleanup.archiveDirectory;
              const lines = logLinesOf(ctx.parameters);
              try {
                await mkdir(directory, { recursive: true });
              } catch (error) {
                throw new Error(
                  `cannot create the archive directory ${directory} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
                );
              }
              const name = archiveName(clock.now(), inventory.timezone);
              const temp = join(directory, `.${name}.${ctx.runId}.tmp`);
              let handle;
              try {
                handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
              } catch (error) {
                throw new Error(
                  `cannot write in the archive directory ${directory} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
                );
              }
              let bytes = 0;
              const services: { service: string; container: string; lines: number; error?: string }[] = [];
              try {
                for (const s of inventory.stack.services) {
                  if (ctx.signal.aborted) throw new Error('cancelled while archiving logs');
                  let text: string;
                  try {
                    const got = await docker.tailLogs(s.container, lines, { ...call(ctx, 2 * MINUTE), timestamps: true });
                    text = got.map((line) => `${s.name} | ${line}\n`).join('');
                    services.push({ service: s.name, container: s.container, lines: got.length });
                  } catch (error) {
                    const message = (error as Error).message;
                    text = `${s.name} | [archive] the logs of ${s.container} could not be read: ${message}\n`;
                    services.push({ service: s.name, container: s.container, lines: 0, error: message });
                  }
                  const buffer = Buffer.from(text, 'utf8');
                  for (let offset = 0; offset < buffer.length;)
                    offset += (await handle.write(buffer, offset, buffer.length - offset)).bytesWritten;
                  bytes += buffer.length;
                  ctx.progress({ service: s.name, bytes });
                }
                await handle.sync();
                await handle.close();
                handle = undefined;
                // link() never replaces an existing file: a name taken meanwhile gets _2, _3 …
                let fileName = name;
                for (let n = 2; ; n++) {
                  try {
                    await link(temp, join(directory, fileName));
                    break;
                  } catch (error) {
                    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || n > 999) throw error;
                    fileName = withSuffix(name, n);
                  }
                }
                await unlink(temp);
                const dir = await open(directory, constants.O_RDONLY);
                await dir.sync().finally(() => dir.close());
                return {
                  directory,
                  fileName,
                  path: join(directory, fileName),
                  bytesWritten: bytes,
                  linesPerService: lines,
                  services,
                  reclaimedBytes: 0,
                };
              } finally {
                await handle?.close().catch(() => undefined);
                await unlink(temp).catch(() => undefined);
              }
            },
          ),
      },
      {
        id: 'prune',
        title: 'Remove stopped containers that are not inventory services, and dangling images',
        timeoutMs: 10 * MINUTE,
        plan: async (ctx) => {
          const t = await pruneTargets(ctx);
          return {
            containers: t.containers.map(showContainer),
            images: t.images.map(showImage),
            neverRemoved: t.kept,
            imagesKept: t.imagesKept,
            bytesToFree: t.containers.reduce((s, c) => s + (c.sizeRwBytes ?? 0), 0) + t.images.reduce((s, i) => s + i.sizeBytes, 0),
          };
        },
        run: (ctx) =>
          explained(
            'pruning containers and images',
            'check the Docker engine (docker info); running the procedure again removes only what is still stopped or dangling',
            async () => {
              const t = await pruneTargets(ctx);
              const removedContainers: ReturnType<typeof showContainer>[] = [];
              const removedImages: ReturnType<typeof showImage>[] = [];
              const skipped: { target: string; reason: string }[] = [];
              for (const c of t.containers) {
                if (ctx.signal.aborted) throw new Error('cancelled while removing containers');
                if (protectedBecause(c)) continue; // never: checked again right before
                try {
                  await docker.removeContainer(c.id, call(ctx, 60_000));
                  removedContainers.push(showContainer(c));
                } catch (error) {
                  skipped.push({ target: `container ${c.name}`, reason: (error as Error).message });
                }
              }
              for (const i of t.images) {
                if (ctx.signal.aborted) throw new Error('cancelled while removing images');
                try {
                  await docker.removeImage(i.id, call(ctx, 60_000));
                  removedImages.push(showImage(i));
                } catch (error) {
                  skipped.push({ target: `image ${i.id}`, reason: (error as Error).message });
                }
              }
              return {
                removedContainers,
                removedImages,
                skipped,
                neverRemoved: t.kept,
                imagesKept: t.imagesKept,
                reclaimedBytes: removedContainers.reduce((s, c) => s + c.sizeBytes, 0) + removedImages.reduce((s, i) => s + i.sizeBytes, 0),
              };
            },
          ),
      },
      {
        id: 'verify',
        title: 'Free space after vs before, bytes reclaimed per step, against thresholds.freeDiskGbMin',
        timeoutMs: 60_000,
        plan: async () => {
          const { usable } = await measure(cleanupPaths(inventory));
          return {
            freeDiskGbMin: inventory.thresholds.freeDiskGbMin,
            unit: 'GiB (as df -h)',
            fileSystems: [...byFileSystem(usable).values()].map((f) => ({
              paths: f.paths,
              freeGiB: gib(f.freeBytes),
              usedPercent: f.usedPercent,
            })),
          };
        },
        run: (ctx) =>
          explained(
            'measuring the free space after the cleanup',
            'check stack.dataPaths and backups.directory in the inventory; the cleanup itself is done (see the steps above)',
            async () => {
              const steps = await dataSource.getRepository(StepEntity).find({ where: { runId: ctx.runId } });
              const outputOf = (id: string) => (steps.find((s) => s.stepId === id)?.output ?? {}) as StepOutput;
              const reclaimedByStep: Record<string, number> = {};
              for (const id of ['backups', 'vacuum', 'archive-logs', 'prune'])
                reclaimedByStep[id] = Number(outputOf(id).reclaimedBytes ?? 0);
              const before = new Map<number, DiskUsage>();
              for (const u of (outputOf('usage').paths ?? []) as DiskUsage[])
                if (typeof u?.device === 'number' && !before.has(u.device)) before.set(u.device, u);
              const { usable } = await measure(cleanupPaths(inventory));
              const minBytes = inventory.thresholds.freeDiskGbMin * GIB;
              const fileSystems = [...byFileSystem(usable).values()].map((f) => {
                const was = before.get(f.device);
                return {
                  paths: f.paths,
                  freeBeforeBytes: was?.freeBytes ?? null,
                  freeAfterBytes: f.freeBytes,
                  freedBytes: was ? f.freeBytes - was.freeBytes : null,
                  freeAfterGiB: gib(f.freeBytes),
                  usedPercent: f.usedPercent,
                  meetsThreshold: f.freeBytes >= minBytes,
                };
              });
              const summary = {
                freeDiskGbMin: inventory.thresholds.freeDiskGbMin,
                fileSystems,
                reclaimedByStep,
                reclaimedBytes: Object.values(reclaimedByStep).reduce((a, b) => a + b, 0),
                meetsThreshold: fileSystems.every((f) => f.meetsThreshold),
              };
              const short = fileSystems.filter((f) => !f.meetsThreshold);
              if (short.length) {
                // Still short of space: DevOps must add disk. P1 when the disk is at the fail band (inserts fail soon).
                const critical = short.some((f) => f.usedPercent >= inventory.thresholds.diskPercent.fail);
                const level: Severity = critical ? 'P1' : 'P2';
                const where = short.map((f) => `${f.paths.join(', ')}: ${f.freeAfterGiB} GiB free, ${f.usedPercent} % used`).join('; ');
                throw new EscalationError(
                  `free space is still below ${inventory.thresholds.freeDiskGbMin} GiB after the cleanup (${where}; reclaimed ${gib(summary.reclaimedBytes)} GiB): contact DevOps to expand the disk (LVM) or move backups to external storage`,
                  {
                    ...summary,
                    nextStep:
                      'contact DevOps to expand the disk (LVM), or move backups to external storage (runbook Issue 3, "If still issues")',
                  },
                  level,
                );
              }
              return summary;
            },
          ),
      },
    ],
  };
}
