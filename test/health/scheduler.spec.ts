import { describe, it } from 'node:test';
import { expect } from 'expect';
import { withClient } from '../helpers/db';
import { startTestApp } from '../helpers/test-app';
import { sleep } from '../stack/stack-helpers';

describe('the scheduled checklist with two control-plane instances', () => {
  it('runs once per tick: one job per tick, taken by one of the two replicas', async () => {
    const patch = (doc: Record<string, any>) => {
      doc.schedules.dailyChecklist = '*/3 * * * * *'; // every 3 s (seconds first), for the test
    };
    const a = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml', inventoryPatch: patch, env: { OPS_SCHEDULER: 'true' } });
    const b = await startTestApp({
      inventoryFile: 'stack/ops.stack.yaml',
      inventoryPatch: patch,
      env: { OPS_SCHEDULER: 'true' },
      shareWith: a,
    });
    let runs: { scheduled_for: Date; requested_by: string }[] = [];
    const taken: number[] = [];
    let duplicates = 0;
    try {
      await sleep(13000);
      for (const replica of [a, b]) {
        const text = (await replica.http().get('/metrics')).text;
        const count = (outcome: string) =>
          Number(text.match(new RegExp(`ops_scheduled_checklist_jobs_total\\{outcome="${outcome}"\\} (\\d+)`))?.[1] ?? 0);
        taken.push(count('ran'));
        duplicates += count('duplicate');
      }
      await b.close();
      runs = await withClient(a.database, (c) =>
        c
          .query("SELECT scheduled_for, requested_by FROM checklist_runs WHERE trigger = 'schedule' ORDER BY scheduled_for")
          .then((r) => r.rows),
      );
    } finally {
      await a.close();
    }
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.length).toBeLessThanOrEqual(5);
    const ticks = runs.map((r) => new Date(r.scheduled_for).getTime());
    expect(new Set(ticks).size).toBe(ticks.length);
    // Consecutive runs serve consecutive 3 s ticks: never two runs for one tick.
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBeGreaterThanOrEqual(2900);
    expect(runs.every((r) => r.requested_by === 'scheduler')).toBe(true);
    // The queue made one job per tick: no replica even tried a tick another one ran.
    expect(duplicates).toBe(0);
    expect(taken.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(runs.length - 1);
  });

  it('runs the hourly health check once per tick across two replicas, as its own kind', async () => {
    const patch = (doc: Record<string, any>) => {
      doc.schedules.dailyChecklist = '0 0 1 1 *'; // not during the test
      doc.schedules.hourlyHealthCheck = '*/3 * * * * *'; // every 3 s (seconds first), for the test
    };
    const a = await startTestApp({ inventoryFile: 'stack/ops.stack.yaml', inventoryPatch: patch, env: { OPS_SCHEDULER: 'true' } });
    const b = await startTestApp({
      inventoryFile: 'stack/ops.stack.yaml',
      inventoryPatch: patch,
      env: { OPS_SCHEDULER: 'true' },
      shareWith: a,
    });
    let runs: { scheduled_for: Date; kind: string; items: { item: string }[] }[] = [];
    let duplicates = 0;
    let taken = 0;
    try {
      await sleep(13000);
      for (const replica of [a, b]) {
        const text = (await replica.http().get('/metrics')).text;
        const count = (outcome: string) =>
          Number(text.match(new RegExp(`ops_scheduled_hourly_health_jobs_total\\{outcome="${outcome}"\\} (\\d+)`))?.[1] ?? 0);
        taken += count('ran');
        duplicates += count('duplicate');
      }
      await b.close();
      runs = await withClient(a.database, (c) =>
        c
          .query("SELECT scheduled_for, kind, items FROM checklist_runs WHERE trigger = 'schedule' ORDER BY scheduled_for")
          .then((r) => r.rows),
      );
    } finally {
      await a.close();
    }
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.length).toBeLessThanOrEqual(5);
    expect(runs.every((r) => r.kind === 'hourly')).toBe(true);
    expect(runs.every((r) => r.items.map((i) => i.item).join() === 'services,metrics')).toBe(true);
    const ticks = runs.map((r) => new Date(r.scheduled_for).getTime());
    for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBeGreaterThanOrEqual(2900);
    expect(duplicates).toBe(0);
    expect(taken).toBeGreaterThanOrEqual(runs.length - 1);
  });
});
