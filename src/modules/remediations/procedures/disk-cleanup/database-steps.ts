/** Disk cleanup's database steps: old backups deleted (retention under disk pressure), then VACUUM ANALYZE. */
import { join } from 'node:path';
import { defineStep } from '../../../../procedures/procedure';
import { databaseOf } from '../../../../integrations/target-db/pg-tools';
import { call, CleanupContext, DiskCleanupDeps, DiskCleanupParameters, explained, fileSize, keepLastOf, MINUTE } from './shared';

/** What the backups step deletes: the disk-pressure retention plan, with each file's size on disk. */
export async function backupPlan({ backups }: Pick<DiskCleanupDeps, 'backups'>, ctx: CleanupContext) {
  const plan = await backups.retentionPlan('disk-pressure', ctx.inventory.backups.retentionDays, keepLastOf(ctx));
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
}

export const backupsStep = (deps: Pick<DiskCleanupDeps, 'backups'>) =>
  defineStep<DiskCleanupParameters>({
    id: 'backups',
    title: 'Delete backups beyond the newest N (never the newest verified one; unknown files only listed)',
    timeoutMs: 10 * MINUTE,
    plan: (ctx) => backupPlan(deps, ctx),
    run: (ctx) =>
      explained(
        'deleting old backups',
        `check ${deps.backups.directory} and the backup catalog (GET /api/v1/backups); running the procedure again deletes only what is still beyond the newest ${keepLastOf(ctx)}`,
        async () => {
          const plan = await backupPlan(deps, ctx);
          const deleted: { id: string; fileName: string; bytes: number }[] = [];
          const skipped: { fileName: string; reason: string }[] = [];
          for (const item of plan.delete) {
            if (ctx.signal.aborted) throw new Error(`cancelled after deleting ${deleted.length} backup(s)`);
            try {
              const bytes = (await fileSize(join(deps.backups.directory, item.fileName))) ?? 0;
              // The catalog records who deleted it: the person who asked for this run.
              await deps.backups.remove(item.id, ctx.requester.username);
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
  });

export const vacuumStep = ({ targetDb }: Pick<DiskCleanupDeps, 'targetDb'>) =>
  defineStep<DiskCleanupParameters>({
    id: 'vacuum',
    title: 'VACUUM ANALYZE of the ERP database (autocommit, never inside a transaction)',
    timeoutMs: 60 * MINUTE,
    plan: async (ctx) => ({
      database: databaseOf(ctx.inventory.erpDatabase.url).database,
      statement: 'VACUUM (ANALYZE)',
      transaction: 'none (autocommit)',
      databaseSizeBytes: await targetDb.databaseSize(call(ctx, 10_000)),
    }),
    run: async (ctx) => {
      const database = databaseOf(ctx.inventory.erpDatabase.url).database;
      const before = await targetDb.databaseSize(call(ctx, 10_000));
      const started = Date.now();
      try {
        await targetDb.vacuumAnalyze(call(ctx, 60 * MINUTE - 30_000));
      } catch (error) {
        throw new Error(
          `VACUUM (ANALYZE) of ${database} failed: ${(error as Error).message}; the backups were already cleaned up; check the database (docker-compose logs postgres) and run the procedure again`,
        );
      }
      const after = await targetDb.databaseSize(call(ctx, 10_000));
      return {
        database,
        sizeBeforeBytes: before,
        sizeAfterBytes: after,
        durationMs: Date.now() - started,
        reclaimedBytes: Math.max(0, before - after),
        note: "plain VACUUM makes dead rows' space reusable; it gives space back to the disk only from the end of a table",
      };
    },
  });
