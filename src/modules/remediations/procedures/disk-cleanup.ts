/**
 * Runbook "Common Issues: Issue 3: PostgreSQL Out of Disk Space" as a procedure:
 *   1. df of the data paths and the backup directory
 *   2. keep only the last N backups (the backups module's disk-pressure retention: never the
 *      newest verified one)
 *   3. VACUUM ANALYZE of the ERP database (autocommit: VACUUM cannot run in a transaction)
 *   4. archive every service's last log lines (never overwriting an archive)
 *   5. remove stopped containers that are not inventory services, and dangling images
 *   6. df again: free space against thresholds.freeDiskGbMin (decimal GB); still short →
 *      escalate (DevOps: expand the disk, or move backups to external storage).
 *
 * Domain `database`: it deletes backups (backup.retention, backups.delete: P2 database) and
 * vacuums the ERP database; at P2 the same roles hold it as on `system` (senior_dev, dba).
 * Each step is in ./disk-cleanup/, named and callable alone with a StepContext.
 */
import { defineProcedure, ProcedureDefinition } from '../../../procedures/procedure';
import { archiveLogsStep } from './disk-cleanup/archive-step';
import { backupsStep, vacuumStep } from './disk-cleanup/database-steps';
import { pruneStep } from './disk-cleanup/prune-step';
import { DiskCleanupDeps, diskCleanupParameters, DiskCleanupParameters } from './disk-cleanup/shared';
import { usageStep, verifyStep } from './disk-cleanup/usage-steps';

export { archiveName } from './disk-cleanup/archive-step';

export function diskCleanupProcedure(deps: DiskCleanupDeps): ProcedureDefinition<DiskCleanupParameters> {
  return defineProcedure<DiskCleanupParameters>({
    id: 'disk.cleanup',
    title: 'Free disk space: old backups, VACUUM ANALYZE, archive logs, prune stopped containers and dangling images (runbook Issue 3)',
    severity: 'P2',
    domain: 'database',
    parameters: diskCleanupParameters,
    // erp:postgres: no backup or restore (they write the backup directory) and no second vacuum
    // meanwhile; backups:retention: no retention run deleting the same backups.
    locks: () => ['erp:postgres', 'backups:retention'],
    requiresApproval: false,
    steps: [usageStep(deps), backupsStep(deps), vacuumStep(deps), archiveLogsStep(deps), pruneStep(deps), verifyStep(deps)],
  });
}
