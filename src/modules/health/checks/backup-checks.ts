import { Inventory } from '../../../config/inventory.schema';
import type { BackupFreshness } from '../../backups/backup.service';
import { CheckDefinition, singleCheck } from '../check';

const MB = 1e6;
const mb = (bytes: number) => `${(bytes / MB).toFixed(bytes < 10 * MB ? 2 : 1)} MB`;
const hoursAgo = (at: Date, now: Date) => (now.getTime() - at.getTime()) / 3_600_000;

/**
 * The backups in the morning checklist: the newest verified (restore-drilled) backup is at most
 * backups.maxAgeHours old, and the newest backup is not much smaller than the one before it
 * (the ERP's BackupFailed and BackupSizeAbnormal rules, checked where people look every morning).
 */
export function backupChecks(inventory: Inventory, read: () => Promise<BackupFreshness>, now: () => Date): CheckDefinition[] {
  const { maxAgeHours, minSizeRatio } = inventory.backups;
  // One catalog read for both checks of a run.
  let reading: Promise<BackupFreshness> | undefined;
  const catalog = () => (reading ??= read());
  return [
    singleCheck(
      {
        id: 'backup:fresh',
        title: `newest verified backup at most ${maxAgeHours} h old`,
        timeoutMs: 2000,
        expected: `a backup verified by a restore drill, made within ${maxAgeHours} h`,
        nextStep: 'make a backup and verify it (POST /api/v1/backups, then POST /api/v1/backups/{id}/verify); see Backup & Recovery',
      },
      async () => {
        const { newestVerified, newest } = await catalog();
        if (!newestVerified)
          return {
            verdict: 'fail',
            observed: newest ? `no verified backup (newest ${newest.fileName} is ${newest.verifyStatus})` : 'no backup at all',
          };
        const age = hoursAgo(newestVerified.createdAt, now());
        return {
          verdict: age <= maxAgeHours ? 'pass' : 'fail',
          observed: `${newestVerified.fileName}, made ${age.toFixed(1)} h ago, verified`,
          details: { backupId: newestVerified.id, createdAt: newestVerified.createdAt, ageHours: Math.round(age * 10) / 10 },
        };
      },
    ),
    singleCheck(
      {
        id: 'backup:size',
        title: `newest backup not below ${Math.round(minSizeRatio * 100)} % of the one before`,
        timeoutMs: 2000,
        expected: minSizeRatio > 0 ? `at least ${Math.round(minSizeRatio * 100)} % of the previous backup's size` : 'any size (check off)',
        nextStep:
          'compare the two backups (row counts in GET /api/v1/backups/{id}); a much smaller dump means lost data or a broken dump: see Emergency Procedures: Data Corruption Detected',
      },
      async () => {
        const { newest, previous } = await catalog();
        if (!newest) return { verdict: 'pass', observed: 'no backup yet (the freshness check fails for it)' };
        if (!previous || previous.sizeBytes <= 0)
          return { verdict: 'pass', observed: `${newest.fileName} ${mb(newest.sizeBytes)}, no backup before it` };
        const ratio = newest.sizeBytes / previous.sizeBytes;
        return {
          verdict: minSizeRatio > 0 && ratio < minSizeRatio ? 'fail' : 'pass',
          observed: `${newest.fileName} ${mb(newest.sizeBytes)}, ${Math.round(ratio * 100)} % of ${previous.fileName} ${mb(previous.sizeBytes)}`,
          details: { newest: newest.id, previous: previous.id, ratio: Math.round(ratio * 1000) / 1000 },
        };
      },
    ),
  ];
}
