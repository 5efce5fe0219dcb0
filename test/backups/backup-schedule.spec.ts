import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Job, Queue } from 'bullmq';
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
import { tickOf } from '../../src/common/scheduled-queue';

/** Ticks every 10 s (seconds first, for the test): backups on :00, :10 …, drills 5 s later. */
const PERIOD_MS = 10_000;
const DRILL_OFFSET_MS = 5000;
const FINISHED = "('succeeded', 'failed', 'cancelled', 'interrupted', 'escalated', 'rejected', 'expired')";

/** The cron ticks of one schedule strictly between two instants. */
function ticksBetween(from: number, to: number, offset: number): number[] {
  const ticks: number[] = [];
  for (let t = Math.floor((from - offset) / PERIOD_MS) * PERIOD_MS + offset; t < to; t += PERIOD_MS) if (t > from) ticks.push(t);
  return ticks;
}

describe('the backup schedules with two control-plane instances', () => {
  it('create then retention on each backup tick, a drill on each drill tick, each tick once across the replicas, none lost', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'erp-backups-schedule-'));
    const patch = (doc: Record<string, any>) => {
      doc.backups.directory = dir;
      doc.schedules.backup = '*/10 * * * * *';
      doc.schedules.restoreDrill = '5/10 * * * * *';
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
    let backupJobs: Job[] = [];
    let drillJobs: Job[] = [];
    let windowStart = 0;
    let windowEnd = 0;
    const connection = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0', { maxRetriesPerRequest: null });
    const backupQueue = new Queue(BACKUPS_QUEUE, { connection, prefix: `${a.redisPrefix}bull` });
    const drillQueue = new Queue(RESTORE_DRILLS_QUEUE, { connection, prefix: `${a.redisPrefix}bull` });
    /** No job taken or due and no run open (the next ticks' jobs wait as delayed, or not at all). */
    const idle = async (states: ('active' | 'waiting' | 'delayed' | 'prioritized')[]) => {
      const counts = [await backupQueue.getJobCounts(...states), await drillQueue.getJobCounts(...states)];
      const open = await withClient(
        a.database,
        async (c) => (await c.query(`SELECT count(*)::int AS n FROM procedure_runs WHERE status NOT IN ${FINISHED}`)).rows[0].n as number,
      );
      return { done: counts.every((c) => Object.values(c).every((n) => n === 0)) && open === 0, counts, open };
    };
    try {
      // The window starts once both replicas are up and the ticks of their start-up are served:
      // a start-up in this process slows the runs of the ticks that fall in it, and an overlap
      // there (refused by the lock, by design) is not what this test is about.
      const quietBy = Date.now() + 120_000;
      for (;;) {
        const state = await idle(['active', 'waiting', 'prioritized']);
        if (state.done) break;
        if (Date.now() > quietBy) throw new Error(`the start-up ticks were not served: ${JSON.stringify(state)}`);
        await sleep(200);
      }
      windowStart = Date.now();
      // At least 30 s of ticks (3 or 4 of each schedule), ending halfway between a backup tick
      // and a drill tick, so that no tick is due as the schedulers are removed.
      const half = DRILL_OFFSET_MS / 2;
      windowEnd = Math.ceil((windowStart + 3 * PERIOD_MS - half) / DRILL_OFFSET_MS) * DRILL_OFFSET_MS + half;
      await sleep(windowEnd - Date.now());
      await backupQueue.removeJobScheduler(DAILY_BACKUP_SCHEDULER);
      await drillQueue.removeJobScheduler(WEEKLY_DRILL_SCHEDULER);
      // No more ticks from here; the ticks already taken (and the runs they asked for) end on
      // whichever replica took them, however slow the machine is.
      const settleBy = Date.now() + 180_000;
      for (;;) {
        const state = await idle(['active', 'waiting', 'delayed', 'prioritized']);
        if (state.done) break;
        if (Date.now() > settleBy) throw new Error(`scheduled work did not settle: ${JSON.stringify(state)}`);
        await sleep(500);
      }
      backupJobs = await backupQueue.getJobs(['completed', 'failed']);
      drillJobs = await drillQueue.getJobs(['completed', 'failed']);
      await b.close();
      [runs, kinds, failures] = await withClient(a.database, async (c) => [
        (await c.query('SELECT procedure_id, status, requested_by, created_at FROM procedure_runs ORDER BY created_at')).rows,
        (await c.query('SELECT kind FROM backups')).rows.map((r) => r.kind),
        (
          await c.query(
            "SELECT action, error_code FROM audit_entries WHERE actor = 'scheduler' AND outcome <> 'success' AND at >= $1 ORDER BY id",
            [new Date(windowStart)],
          )
        ).rows,
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
    const inWindow = (jobs: Job[]) =>
      jobs
        .filter((job) => tickOf(job).getTime() > windowStart && tickOf(job).getTime() < windowEnd)
        .map((job) => ({ tick: tickOf(job).getTime(), result: job.returnvalue ?? job.failedReason }))
        .sort((x, y) => x.tick - y.tick);
    // Nothing refused within the window: a second replica taking a tick already served would
    // have been refused by the lock and audited as a failure.
    expect(failures).toEqual([]);
    // Every backup tick of the window served once (none lost, none twice), by a create then a
    // retention.
    const backupTicks = ticksBetween(windowStart, windowEnd, 0);
    expect(backupTicks.length).toBeGreaterThanOrEqual(3);
    expect(inWindow(backupJobs)).toEqual(
      backupTicks.map((tick) => ({ tick, result: 'backup.create succeeded; backup.retention succeeded' })),
    );
    // Every drill tick served once by a drill of the newest backup; surely one exists after the
    // window's second backup tick (its first create ended before it, else it was refused).
    const drills = inWindow(drillJobs);
    expect(drills.map((d) => d.tick)).toEqual(ticksBetween(windowStart, windowEnd, DRILL_OFFSET_MS));
    expect(drills.filter((d) => d.tick > backupTicks[1]).length).toBeGreaterThanOrEqual(1);
    expect(drills.map((d) => d.result)).toEqual(
      drills.map((d) => (d.tick > backupTicks[1] || d.result !== 'no backup to drill' ? 'backup.verify succeeded' : 'no backup to drill')),
    );
    // One create (and one retention, right after it) per backup job that ran one, whenever it
    // ran: never two runs for one tick.
    const created = backupJobs.filter((job) => String(job.returnvalue).startsWith('backup.create'));
    expect(of('backup.create').length).toBe(created.length);
    expect(of('backup.retention').length).toBe(of('backup.create').length);
    for (const [i, create] of of('backup.create').entries())
      expect(of('backup.retention')[i].created_at.getTime()).toBeGreaterThan(create.created_at.getTime());
    expect(runs.every((r) => r.requested_by === 'scheduler')).toBe(true);
    expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
    expect(kinds.every((k) => k === 'scheduled')).toBe(true);
  });
});
