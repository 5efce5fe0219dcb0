/**
 * The backup procedures of the runbook ("Backup & Recovery", "Disk full"): create, verify,
 * retention and delete. The restore is in backup-restore.procedure.ts. Each step is a named,
 * top-level definition over the backup service; who asked comes from the step's context.
 */
import { Inventory } from '../../config/inventory.schema';
import { defineProcedure, defineStep, ProcedureDefinition, StepContext } from '../../procedures/procedure';
import {
  createParameters,
  CreateParameters,
  deleteParameters,
  DeleteParameters,
  retentionParameters,
  RetentionParameters,
  SCHEDULER_USERNAME,
  verifyParameters,
  VerifyParameters,
} from './backup.parameters';
import { RestoreDeps, restoreProcedure } from './backup-restore.procedure';
import { BackupService } from './backup.service';
import { HOUR, workOf } from './work';

/** What the backup steps use: the service (catalog, files, pg tools) and the inventory. */
export interface BackupSteps {
  backups: BackupService;
  inventory: Inventory;
}

/** backup.create's only step; a run the scheduler requested makes a `scheduled` backup. */
export const dumpStep = ({ backups }: BackupSteps) =>
  defineStep<CreateParameters>({
    id: 'dump',
    title: 'Dump, compress, checksum and catalog',
    timeoutMs: 6 * HOUR,
    plan: () => backups.planCreate('manual'),
    run: async (ctx) => {
      const entry = await backups.create(ctx.requester.username === SCHEDULER_USERNAME ? 'scheduled' : 'manual', workOf(ctx));
      return {
        backupId: entry.id,
        fileName: entry.fileName,
        sizeBytes: entry.sizeBytes,
        sha256: entry.sha256,
        durationMs: entry.durationMs,
        tables: Object.keys(entry.rowCounts).length,
      };
    },
  });

export const drillStep = ({ backups }: BackupSteps) =>
  defineStep<VerifyParameters>({
    id: 'drill',
    title: 'Check the file and restore it into a scratch database; compare row counts',
    timeoutMs: 6 * HOUR,
    plan: async (ctx) => backups.planVerify(await backups.entry(ctx.parameters.backupId)),
    run: async (ctx) => {
      const entry = await backups.verify(ctx.parameters.backupId, workOf(ctx));
      return {
        backupId: entry.id,
        verifiedAt: entry.verifiedAt?.toISOString(),
        drillDurationMs: entry.drillDurationMs,
        tables: Object.keys(entry.rowCounts).length,
      };
    },
  });

/** The rule of a retention run: its parameters, else the inventory's defaults. */
function retentionRule(ctx: StepContext<RetentionParameters>, inventory: Inventory) {
  const p = ctx.parameters;
  return [p.mode, p.retentionDays ?? inventory.backups.retentionDays, p.keepLast ?? inventory.backups.keepLastOnCleanup] as const;
}

export const pruneStep = ({ backups, inventory }: BackupSteps) =>
  defineStep<RetentionParameters>({
    id: 'prune',
    title: 'Delete catalog backups outside the rule (never the newest verified; unknown files only listed)',
    timeoutMs: 10 * 60_000,
    plan: (ctx) => backups.retentionPlan(...retentionRule(ctx, inventory)) as never,
    run: async (ctx) => {
      const plan = await backups.retentionPlan(...retentionRule(ctx, inventory));
      const deleted: string[] = [];
      const skipped: { fileName: string; reason: string }[] = [];
      for (const item of plan.delete) {
        try {
          await backups.remove(item.id, ctx.requester.username);
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
  });

export const deleteStep = ({ backups }: BackupSteps) =>
  defineStep<DeleteParameters>({
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
      const entry = await backups.remove(ctx.parameters.backupId, ctx.requester.username);
      return { backupId: entry.id, fileName: entry.fileName, deletedAt: entry.deletedAt?.toISOString() };
    },
  });

/** The backup procedures of the runbook ("Backup & Recovery", "Restore from Backup", "Disk full"). */
export function backupProcedures(deps: RestoreDeps): ProcedureDefinition[] {
  const create = defineProcedure<CreateParameters>({
    id: 'backup.create',
    title: 'Back up the ERP database (pg_dump, gzip) into the backup directory',
    severity: 'P3',
    domain: 'database',
    parameters: createParameters,
    locks: () => ['erp:postgres'],
    requiresApproval: false,
    steps: [dumpStep(deps)],
  });
  const verify = defineProcedure<VerifyParameters>({
    id: 'backup.verify',
    title: 'Verify a backup: checksum, complete gzip stream, completion marker, restore drill into a scratch database',
    severity: 'P3',
    domain: 'database',
    parameters: verifyParameters,
    locks: (p) => [`backup:${p.backupId}`],
    requiresApproval: false,
    steps: [drillStep(deps)],
  });
  const retention = defineProcedure<RetentionParameters>({
    id: 'backup.retention',
    title: 'Apply the retention rule (7-day window, or keep the last N under disk pressure)',
    severity: 'P2',
    domain: 'database',
    parameters: retentionParameters,
    locks: () => ['backups:retention'],
    requiresApproval: false,
    steps: [pruneStep(deps)],
  });
  const remove = defineProcedure<DeleteParameters>({
    id: 'backup.delete',
    title: 'Delete one backup (its file; the catalog keeps the entry as deleted)',
    severity: 'P2',
    domain: 'database',
    parameters: deleteParameters,
    locks: (p) => [`backup:${p.backupId}`],
    requiresApproval: false,
    steps: [deleteStep(deps)],
  });
  return [create, verify, retention, remove, restoreProcedure(deps)];
}
