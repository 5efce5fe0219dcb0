import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { withClient } from '../helpers/db';
import { startTestApp } from '../helpers/test-app';
import { sleep } from '../stack/stack-helpers';

describe('the backup schedules with two control-plane instances', () => {
  it('create then retention on each backup tick, a drill on each drill tick, each run once across the replicas', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'erp-backups-schedule-'));
    const patch = (doc: Record<string, any>) => {
      doc.backups.directory = dir;
      doc.schedules.backup = '*/6 * * * * *'; // every 6 s (seconds first), for the test
      doc.schedules.restoreDrill = '3/6 * * * * *';
    };
    const a = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml', inventoryPatch: patch, env: { OPS_SCHEDULER: 'true' } });
    const b = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml', inventoryPatch: patch, env: { OPS_SCHEDULER: 'true' }, shareWith: a });
    let runs: { procedure_id: string; status: string; requested_by: string; created_at: Date }[] = [];
    let kinds: string[] = [];
    let failures: unknown[] = [];
    try {
      await sleep(15_000);
      await b.close();
      await sleep(3000); // let a run in progress end
      [runs, kinds, failures] = await withClient(a.database, async (c) => [
        (await c.query('SELECT procedure_id, status, requested_by, created_at FROM procedure_runs ORDER BY created_at')).rows,
        (await c.query('SELECT kind FROM backups')).rows.map((r) => r.kind),
        (await c.query("SELECT action, error_code FROM audit_entries WHERE actor = 'scheduler' AND outcome <> 'success'")).rows,
      ]);
    } finally {
      await a.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const of = (id: string) => runs.filter((r) => r.procedure_id === id);
    // 15 s of 6 s ticks: 2 or 3 backup ticks, each run once (a second replica taking the same
    // tick would have been refused by the lock and audited as a failure).
    expect(of('backup.create').length).toBeGreaterThanOrEqual(2);
    expect(of('backup.create').length).toBeLessThanOrEqual(3);
    expect(failures).toEqual([]);
    expect(runs.every((r) => r.requested_by === 'scheduler')).toBe(true);
    expect(runs.every((r) => r.status === 'succeeded')).toBe(true);
    // Retention right after each create.
    expect(of('backup.retention').length).toBe(of('backup.create').length);
    for (const [i, create] of of('backup.create').entries()) expect(of('backup.retention')[i].created_at.getTime()).toBeGreaterThan(create.created_at.getTime());
    expect(of('backup.verify').length).toBeGreaterThanOrEqual(1);
    expect(kinds.every((k) => k === 'scheduled')).toBe(true);
  });
});
