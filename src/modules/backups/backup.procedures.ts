import { DataSource } from 'typeorm';
import { z } from 'zod';
import { Inventory } from '../../config/inventory.schema';
import { DockerPort, HttpProbePort } from '../../integrations/contracts';
import { ProcedureDefinition, StepContext } from '../../procedures/procedure';
import { containerOf, startBackend, waitBackendHealthy } from '../../procedures/stack-steps';
import { RunEntity } from '../../procedures/run.entity';
import { BackupService } from './backup.service';
import { databaseOf } from './pg-tools';

export const SCHEDULER_USERNAME = 'scheduler';
const HOUR = 3_600_000;

/** A catalog id: never a path or file name. */
const backupId = z
  .string({ error: 'must be a backup id from GET /api/v1/backups (a uuid)' })
  .refine((v) => !/[\\/]|\.\./.test(v), { error: 'must be a backup id from GET /api/v1/backups, never a path' })
  .pipe(z.uuid({ error: 'must be a backup id from GET /api/v1/backups (a uuid)' }));

export const createParameters = z.object({}).strict();
export const verifyParameters = z.object({ backupId }).strict();
export const deleteParameters = z.object({ backupId }).strict();
export const MAX_RETENTION_DAYS = 3650;
export const MAX_KEEP_LAST = 10_000;
export const RETENTION_DAYS_MESSAGE = `must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}, for example 7`;
export const KEEP_LAST_MESSAGE = `must be a whole number of backups from 1 to ${MAX_KEEP_LAST}, for example 3`;

export const retentionParameters = z
  .object({
    mode: z
      .enum(['window', 'disk-pressure'], { error: 'must be window (the 7-day rolling window) or disk-pressure (keep only the last N)' })
      .default('window'),
    retentionDays: z
      .number({ error: RETENTION_DAYS_MESSAGE })
      .int({ error: RETENTION_DAYS_MESSAGE })
      .min(1, { error: RETENTION_DAYS_MESSAGE })
      .max(MAX_RETENTION_DAYS, { error: RETENTION_DAYS_MESSAGE })
      .optional(),
    keepLast: z
      .number({ error: KEEP_LAST_MESSAGE })
      .int({ error: KEEP_LAST_MESSAGE })
      .min(1, { error: KEEP_LAST_MESSAGE })
      .max(MAX_KEEP_LAST, { error: KEEP_LAST_MESSAGE })
      .optional(),
  })
  .strict();
export const restoreParameters = z
  .object({
    backupId,
    /** Restore a backup that is not verified (or whose file changed): admins only. */
    force: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .strict();

async function runOf(dataSource: DataSource, runId: string): Promise<RunEntity | null> {
  return dataSource.getRepository(RunEntity).findOne({ where: { id: runId } });
}

function work(ctx: StepContext<unknown>) {
  return { runId: ctx.runId, signal: ctx.signal, progress: ctx.progress };
}

export interface BackupProcedureDeps {
  backups: BackupService;
  dataSource: DataSource;
  docker: DockerPort;
  http: HttpProbePort;
  inventory: Inventory;
}

/** The backup procedures of the runbook ("Backup & Recovery", "Restore from Backup", "Disk full"). */
export function backupProcedures({ backups, dataSource, docker, http, inventory }: BackupProcedureDeps): ProcedureDefinition[] {
  const erpDb = databaseOf(inventory.erpDatabase.url).database;
  const backend = () => containerOf(inventory, 'backend');
  /** Runs a restore step; if it fails (or is cancelled), the backend is started again first. */
  const startingBackendOnFailure = async <T>(step: () => Promise<T>): Promise<T> => {
    try {
      return await step();
    } catch (error) {
      await startBackend(inventory, docker);
      throw error;
    }
  };

  const create: ProcedureDefinition<z.infer<typeof createParameters>> = {
    id: 'backup.create',
    title: 'Back up the ERP database (pg_dump, gzip) into the backup directory',
    severity: 'P3',
    domain: 'database',
    parameters: createParameters,
    locks: () => ['erp:postgres'],
    requiresApproval: false,
    steps: [
      {
        id: 'dump',
        title: 'Dump, compress, checksum and catalog',
        timeoutMs: 6 * HOUR,
        plan: () => backups.planCreate('manual'),
        run: async (ctx) => {
          const run = await runOf(dataSource, ctx.runId);
          const entry = await backups.create(run?.requestedBy === SCHEDULER_USERNAME ? 'scheduled' : 'manual', work(ctx));
          return {
            backupId: entry.id,
            fileName: entry.fileName,
            sizeBytes: entry.sizeBytes,
            sha256: entry.sha256,
            durationMs: entry.durationMs,
            tables: Object.keys(entry.rowCounts).length,
          };
        },
      },
    ],
  };

  const verify: ProcedureDefinition<z.infer<typeof verifyParameters>> = {
    id: 'backup.verify',
    title: 'Verify a backup: checksum, complete gzip stream, completion marker, restore drill into a scratch database',
    severity: 'P3',
    domain: 'database',
    parameters: verifyParameters,
    locks: (p) => [`backup:${p.backupId}`],
    requiresApproval: false,
    steps: [
      {
        id: 'drill',
        title: 'Check the file and restore it into a scratch database; compare row counts',
        timeoutMs: 6 * HOUR,
        plan: async (ctx) => backups.planVerify(await backups.entry(ctx.parameters.backupId)),
        run: async (ctx) => {
          const entry = await backups.verify(ctx.parameters.backupId, work(ctx));
          return {
            backupId: entry.id,
            verifiedAt: entry.verifiedAt?.toISOString(),
            drillDurationMs: entry.drillDurationMs,
            tables: Object.keys(entry.rowCounts).length,
          };
        },
      },
    ],
  };

  const retention: ProcedureDefinition<z.infer<typeof retentionParameters>> = {
    id: 'backup.retention',
    title: 'Apply the retention rule (7-day window, or keep the last N under disk pressure)',
    severity: 'P2',
    domain: 'database',
    parameters: retentionParameters,
    locks: () => ['backups:retention'],
    requiresApproval: false,
    steps: [
      {
        id: 'prune',
        title: 'Delete catalog backups outside the rule (never the newest verified; unknown files only listed)',
        timeoutMs: 10 * 60_000,
        plan: (ctx) =>
          backups.retentionPlan(
            ctx.parameters.mode,
            ctx.parameters.retentionDays ?? inventory.backups.retentionDays,
            ctx.parameters.keepLast ?? inventory.backups.keepLastOnCleanup,
          ) as never,
        run: async (ctx) => {
          const plan = await backups.retentionPlan(
            ctx.parameters.mode,
            ctx.parameters.retentionDays ?? inventory.backups.retentionDays,
            ctx.parameters.keepLast ?? inventory.backups.keepLastOnCleanup,
          );
          const run = await runOf(dataSource, ctx.runId);
          const deleted: string[] = [];
          const skipped: { fileName: string; reason: string }[] = [];
          for (const item of plan.delete) {
            try {
              await backups.remove(item.id, run?.requestedBy ?? 'retention');
              deleted.push(item.fileName);
            } catch (error) {
              skipped.push({ fileName: item.fileName, reason: (error as Error).message });
            }
          }
          return {
            rule: plan.rule,
            deleted,
            skipped,
            kept: plan.keep.length,
            unknownFiles: plan.unknownFiles,
            missingFiles: plan.missingFiles,
          };
        },
      },
    ],
  };

  const remove: ProcedureDefinition<z.infer<typeof deleteParameters>> = {
    id: 'backup.delete',
    title: 'Delete one backup (its file; the catalog keeps the entry as deleted)',
    severity: 'P2',
    domain: 'database',
    parameters: deleteParameters,
    locks: (p) => [`backup:${p.backupId}`],
    requiresApproval: false,
    steps: [
      {
        id: 'delete',
        title: 'Remove the file and mark the entry deleted',
        timeoutMs: 60_000,
        plan: async (ctx) => {
          const entry = await backups.entry(ctx.parameters.backupId);
          const newest = await backups.newestVerified();
          return {
            backupId: entry.id,
            fileName: entry.fileName,
            directory: backups.directory,
            refusedBecause: newest?.id === entry.id ? 'the newest verified backup is never deleted' : null,
          };
        },
        run: async (ctx) => {
          const run = await runOf(dataSource, ctx.runId);
          const entry = await backups.remove(ctx.parameters.backupId, run?.requestedBy ?? 'unknown');
          return { backupId: entry.id, fileName: entry.fileName, deletedAt: entry.deletedAt?.toISOString() };
        },
      },
    ],
  };

  const restore: ProcedureDefinition<z.infer<typeof restoreParameters>> = {
    id: 'backup.restore',
    title: 'Restore the ERP database from a verified backup (runbook "Restore from Backup")',
    severity: 'P1',
    domain: 'database',
    parameters: restoreParameters,
    locks: (p) => ['erp:postgres', 'erp:backend', `backup:${p.backupId}`],
    requiresApproval: true,
    confirmation: () => erpDb,
    // The database rolled back by itself (no COMMIT was sent); the backend must not stay stopped.
    onInterrupted: async (_p, lastStep) => {
      if (!lastStep || ['check-backup', 'safety-backup'].includes(lastStep)) return null;
      await docker.startContainer(backend(), { timeoutMs: 30_000 });
      return `the backend container ${backend()} was started again`;
    },
    steps: [
      {
        id: 'check-backup',
        title: 'The backup is in the catalog, verified (or forced by an admin) and its file is there',
        timeoutMs: 60_000,
        plan: async (ctx) => {
          const entry = await backups.entry(ctx.parameters.backupId);
          return {
            backupId: entry.id,
            fileName: entry.fileName,
            createdAt: entry.createdAt.toISOString(),
            verifyStatus: entry.verifyStatus,
            verifiedAt: entry.verifiedAt?.toISOString() ?? null,
            force: ctx.parameters.force,
          };
        },
        run: async (ctx) => {
          const entry = await backups.entry(ctx.parameters.backupId);
          const run = await runOf(dataSource, ctx.runId);
          if (ctx.parameters.force && run?.requestedRole !== 'admin')
            throw new Error('force (restoring an unverified backup) is for admins only');
          if (entry.verifyStatus !== 'verified' && !ctx.parameters.force) {
            throw new Error(
              `backup ${entry.id} is ${entry.verifyStatus}${entry.verifyError ? ` (${entry.verifyError})` : ''}: only a verified backup is restored (an admin may force it)`,
            );
          }
          return { backupId: entry.id, fileName: entry.fileName, verifyStatus: entry.verifyStatus, forced: ctx.parameters.force };
        },
      },
      {
        id: 'safety-backup',
        title: 'Take a safety backup of the current state',
        timeoutMs: 6 * HOUR,
        plan: () => backups.planCreate('safety'),
        run: async (ctx) => {
          const entry = await backups.create('safety', work(ctx));
          return { backupId: entry.id, fileName: entry.fileName, sizeBytes: entry.sizeBytes };
        },
      },
      {
        id: 'stop-backend',
        title: 'Stop the backend container (releases its database connections)',
        timeoutMs: 90_000,
        plan: async () => ({ container: backend(), action: 'docker stop (10 s grace)' }),
        run: async () => {
          await startingBackendOnFailure(() => docker.stopContainer(backend(), { timeoutMs: 60_000, graceSeconds: 10 }));
          return { container: backend(), stopped: true };
        },
      },
      {
        id: 'restore-database',
        title: 'Restore the backup in one transaction (ON_ERROR_STOP); any failure rolls back',
        timeoutMs: 6 * HOUR,
        plan: async (ctx) => {
          const entry = await backups.entry(ctx.parameters.backupId);
          return {
            database: erpDb,
            fileName: entry.fileName,
            command: `gunzip | ${backups.tools().describe('psql', erpDb)} (BEGIN … COMMIT only after the whole file matched its SHA-256)`,
          };
        },
        run: async (ctx) => {
          return startingBackendOnFailure(async () => {
            const entry = await backups.entry(ctx.parameters.backupId);
            const result = await backups.restoreFile(entry, backups.erpTarget(), erpDb, work(ctx), {
              force: ctx.parameters.force,
              phase: 'restore',
            });
            return { database: erpDb, restoreMs: result.durationMs, tables: Object.keys(entry.rowCounts).length };
          });
        },
      },
      {
        id: 'analyze',
        title: 'ANALYZE (fresh planner statistics)',
        timeoutMs: 60 * 60_000,
        plan: async () => ({ database: erpDb, statement: 'ANALYZE' }),
        run: async () => {
          await startingBackendOnFailure(() => backups.analyze());
          return { analyzed: true };
        },
      },
      {
        id: 'start-backend',
        title: 'Start the backend and wait until it is healthy',
        timeoutMs: (inventory.backups.backendHealthySeconds + 60) * 1000,
        plan: async () => ({
          container: backend(),
          healthUrl: inventory.urls.backendHealth,
          waitSeconds: inventory.backups.backendHealthySeconds,
        }),
        run: async (ctx) => {
          await docker.startContainer(backend(), { timeoutMs: 30_000 });
          return waitBackendHealthy(inventory, docker, http, ctx.signal);
        },
      },
    ],
  };

  return [create, verify, retention, remove, restore];
}
