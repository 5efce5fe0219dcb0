import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { expect } from 'expect';
import Redis from 'ioredis';
import { withClient } from '../helpers/db';
import { startTestApp } from '../helpers/test-app';
import { sleep } from '../stack/stack-helpers';
import {
  BACKUPS_QUEUE,
  DAILY_BACKUP_SCHEDULER,
  RESTORE_DRILLS_QUEUE,
  WEEKLY_DRILL_SCHEDULER,
} from '../../src/modules/backups/backup.scheduler';

describe('the backup schedules with two control-plane instances', () => {
  it('create then retention on each backup tick, a drill on each drill tick, each run once across the replicas', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'erp-backups-schedule-'));
    const patch = (doc: Record<string, any>) => {
      doc.backups.directory = dir;
      doc.schedules.backup = '*/6 * * * * *'; // every 6 s (seconds first), for the test
      doc.schedules.restoreDrill = '3/6 * * * * *';
    };
    const a = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml', inventoryPatch: patch, env: { OPS_SCHEDULER: 'true' } });
    const b = await startTestApp({
      inventoryFile: 'stack/ops.stack.yaml',
      inventoryPatch: patch,
      env: { OPS_SCHEDULER: 'true' },
      shareWith: a,
    });
    let runs: { procedure_id: string; status: string; requested_by: string; created_at: Date }[] = [];
    let kinds: string[] = [];
    let failures: unknown[] = [];
    const connection = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0', { maxRetriesPerRequest: null });
    const backupQueue = new Queue(BACKUPS_QUEUE, { connection, prefix: `${a.redisPrefix}bull` });
    const drillQueue = new Queue(RESTORE_DRILLS_QUEUE, { connection, prefix: `${a.redisPrefix}bull` });
    try {
      await sleep(20_000);
      // No more ticks from here; then let the ticks already taken (and the runs they asked
      // for) end on whichever replica took them, however slow the machine is.
      await backupQueue.removeJobScheduler(DAILY_BACKUP_SCHEDULER);
      await drillQueue.removeJobScheduler(WEEKLY_DRILL_SCHEDULER);
      const settleBy = Date.now() + 180_000;
      for (;;) {
        const states = ['active', 'waiting', 'delayed', 'prioritized'] as const;
        const counts = [await backupQueue.getJobCounts(...states), await drillQueue.getJobCounts(...states)];
        const open = await withClient(
          a.database,
          async (c) =>
            (
              await c.query(
                "SELECT count(*)::int AS n FROM procedure_runs WHERE status NOT IN ('succeeded', 'failed', 'cancelled', 'interrupted', 'escalated', 'rejected', 'expired')",
              )
            ).rows[0].n as number,
        );
        if (counts.every((c) => Object.values(c).every((n) => n === 0)) && open === 0) break;
        if (Date.now() > settleBy) throw new Error(`scheduled work did not settle: ${JSON.stringify(counts)}, ${open} open runs`);
        await sleep(500);
      }
      await b.close();
      [runs, kinds, failures] = await withClient(a.database, async (c) => [
        (await c.query('SELECT procedure_id, status, requested_by, created_at FROM procedure_runs ORDER BY created_at')).rows,
        (await c.query('SELECT kind FROM backups')).rows.map((r) => r.kind),
        (await c.query("SELECT action, error_code FROM audit_entries WHERE actor = 'scheduler' AND outcome <> 'success'")).rows,
      ]);
    } finally {
      await backupQueue.close();
      await drillQueue.close();
      connection.disconnect();
      await b.close().catch(() => undefined);
      await a.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const of = (id: string) => runs.filter((r) => r.procedure_id === id);
    // 20 s (at least) of 6 s ticks: 3 or 4 backup ticks, each run once (a second replica
    // taking the same tick would have been refused by the lock and audited as a failure).
    expect(of('backup.create').length).toBeGreaterThanOrEqual(3);
    expect(of('backup.create').length).toBeLessThanOrEqual(5);
    expect(failures).toEqual([]);
    expect(runs.every((r) => r.requested_by === 'scheduler')).toBe(true);
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    // Retention right after each create.
    expect(of('backup.retention').length).toBe(of('backup.create').length);
    for (const [i, create] of of('backup.create').entries())
      expect(of('backup.retention')[i].created_at.getTime()).toBeGreaterThan(create.created_at.getTime());
    expect(of('backup.verify').length).toBeGreaterThanOrEqual(1);
    expect(kinds.every((k) => k === 'scheduled')).toBe(true);
  });
});
