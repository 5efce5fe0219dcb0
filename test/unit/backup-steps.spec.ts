/**
 * The backups' pure parts: which backups a retention rule deletes, how the catalog shows an
 * entry or an unknown file, the restore's plans from the inventory alone, and the parameters'
 * wording (shared with the REST DTOs).
 */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { catalogItem, retentionPlanOf, unknownFileItem } from '../../src/modules/backups/backup-catalog';
import { namingPattern } from '../../src/modules/backups/backup-files';
import { startBackendStep, stopBackendStep } from '../../src/modules/backups/backup-restore.procedure';
import { BackupEntity } from '../../src/modules/backups/backup.entity';
import {
  KEEP_LAST_MESSAGE,
  RETENTION_DAYS_MESSAGE,
  restoreParameters,
  retentionParameters,
} from '../../src/modules/backups/backup.parameters';
import { exampleInventory, stepContext } from '../helpers/step-context';

const now = new Date('2026-03-10T00:00:00Z');
const daysAgo = (n: number) => new Date(now.getTime() - n * 86_400_000);

function entry(id: string, createdAt: Date, verified = false): BackupEntity {
  return {
    id,
    fileName: `${id}.sql.gz`,
    kind: 'manual',
    sizeBytes: 100,
    sha256: 'a'.repeat(64),
    databaseName: 'erp',
    databaseSizeBytes: 1000,
    serverVersion: '15.4',
    dumpVia: 'docker-exec',
    exitStatus: 0,
    durationMs: 10,
    uncompressedBytes: 500,
    rowCounts: { 'public.products': 3 },
    runId: null,
    createdAt,
    verifyStatus: verified ? 'verified' : 'unverified',
    verifiedAt: verified ? createdAt : null,
    verifyError: null,
    drillDurationMs: null,
    deletedAt: null,
    deletedBy: null,
  } as BackupEntity;
}

describe('backup catalog rules', () => {
  // Newest first, as the service reads them; the only verified one is 9 days old.
  const entries = [entry('new', daysAgo(1)), entry('mid', daysAgo(5)), entry('old', daysAgo(8)), entry('oldest', daysAgo(9), true)];
  const files = [...entries.map((e) => ({ name: e.fileName, bytes: 100, modifiedAt: e.createdAt }))].filter((f) => f.name !== 'mid.sql.gz');
  files.push({ name: 'stray.sql.gz', bytes: 7, modifiedAt: daysAgo(2) });

  it('window: deletes what is older than the window, but never the newest verified backup', () => {
    const plan = retentionPlanOf(entries, files, { mode: 'window', retentionDays: 7, keepLast: 3 }, now);
    expect(plan.rule).toBe('delete backups older than 7 days');
    expect(plan.delete.map((d) => [d.id, d.reason])).toEqual([['old', 'older than 7 days']]);
    expect(plan.keep.map((k) => [k.id, k.reason])).toEqual([
      ['new', 'within 7 days'],
      ['mid', 'within 7 days'],
      ['oldest', 'the newest verified backup is never deleted'],
    ]);
    expect(plan.unknownFiles).toEqual([{ fileName: 'stray.sql.gz', sizeBytes: 7, modifiedAt: daysAgo(2).toISOString() }]);
    expect(plan.missingFiles).toEqual([{ id: 'mid', fileName: 'mid.sql.gz' }]);
  });

  it('disk pressure: keeps only the newest N (and the newest verified)', () => {
    const plan = retentionPlanOf(entries, files, { mode: 'disk-pressure', retentionDays: 7, keepLast: 1 }, now);
    expect(plan.rule).toBe('disk pressure: keep only the newest 1');
    expect(plan.delete.map((d) => d.id)).toEqual(['mid', 'old']);
    expect(plan.keep.map((k) => k.id)).toEqual(['new', 'oldest']);
  });

  it('shows a deleted entry as deleted and a live one without its file as missing', () => {
    const item = catalogItem(entry('new', daysAgo(1)), now, false);
    expect(item).toMatchObject({ id: 'new', known: true, ageSeconds: 86_400, verifyStatus: 'unverified', fileMissing: true });
    const gone = catalogItem({ ...entry('gone', daysAgo(2)), deletedAt: daysAgo(1) } as BackupEntity, now, false);
    expect(gone).toMatchObject({ verifyStatus: 'deleted', fileMissing: false });
  });

  it('tells an unknown file named like a backup from any other file', () => {
    const naming = namingPattern('erp_backup_{YYYY}-{MM}-{DD}_{HH}00.sql.gz');
    const named = unknownFileItem({ name: 'erp_backup_2026-03-09_1000.sql.gz', bytes: 5, modifiedAt: daysAgo(1) }, now, naming);
    expect(named).toMatchObject({ id: null, known: false, verifyStatus: 'unknown: named like a backup but not in the catalog' });
    const other = unknownFileItem({ name: 'notes.txt', bytes: 5, modifiedAt: daysAgo(1) }, now, naming);
    expect(other.verifyStatus).toBe('unknown: not in the catalog');
  });
});

describe('backup.restore steps and parameters', () => {
  const inventory = exampleInventory();
  const deps = { inventory, backups: undefined as never, docker: undefined as never, http: undefined as never };
  const params = restoreParameters.parse({ backupId: '6f1c1d7e-3b7a-4c1e-9a57-2f6f8b1c0d11' });

  it('plans to stop and start the inventory backend, waiting as long as the inventory says', async () => {
    expect(await stopBackendStep(deps).plan(stepContext(params, { inventory }))).toEqual({
      container: 'erp-backend',
      action: 'docker stop (10 s grace)',
    });
    const start = startBackendStep(deps);
    expect(start.timeoutMs).toBe((inventory.backups.backendHealthySeconds + 60) * 1000);
    expect(await start.plan(stepContext(params, { inventory }))).toEqual({
      container: 'erp-backend',
      healthUrl: inventory.urls.backendHealth,
      waitSeconds: inventory.backups.backendHealthySeconds,
    });
  });

  it('words retention limits as the REST DTOs do', () => {
    const days = retentionParameters.safeParse({ retentionDays: 0 });
    expect(days.error?.issues[0].message).toBe(RETENTION_DAYS_MESSAGE);
    const keep = retentionParameters.safeParse({ keepLast: 1.5 });
    expect(keep.error?.issues[0].message).toBe(KEEP_LAST_MESSAGE);
    expect(restoreParameters.safeParse({ backupId: '../etc/passwd' }).error?.issues[0].message).toBe(
      'must be a backup id from GET /api/v1/backups, never a path',
    );
  });
});
