import { describe, it } from 'node:test';
import { expect } from 'expect';
import { withClient } from '../helpers/db';
import { startTestApp } from '../helpers/test-app';
import { sleep } from '../stack/stack-helpers';

/**
 * Two replicas sharing a database and Redis, the inventory patched for a schedule every 3 s,
 * for 13 s: the jobs each replica took (`ops_scheduled_<metric>_jobs_total`) and the scheduled runs stored.
 */
async function twoReplicas<R>(patch: (doc: Record<string, any>) => void, metric: string, columns: string) {
  const options = { inventoryFile: 'stack/ops.stack.yaml', inventoryPatch: patch, env: { OPS_SCHEDULER: 'true' } };
  const a = await startTestApp(options);
  const b = await startTestApp({ ...options, shareWith: a });
  let taken = 0;
  let duplicates = 0;
  let bOpen = true;
  try {
    await sleep(13000);
    for (const replica of [a, b]) {
      const text = (await replica.scrape()).text;
      const count = (outcome: string) =>
        Number(text.match(new RegExp(`ops_scheduled_${metric}_jobs_total\\{outcome="${outcome}"\\} (\\d+)`))?.[1] ?? 0);
      taken += count('ran');
      duplicates += count('duplicate');
    }
    await b.close();
    bOpen = false;
    const runs: R[] = await withClient(a.database, (c) =>
      c.query(`SELECT ${columns} FROM checklist_runs WHERE trigger = 'schedule' ORDER BY scheduled_for`).then((r) => r.rows),
    );
    return { runs, taken, duplicates };
  } finally {
    if (bOpen) await b.close();
    await a.close();
  }
}

/** Consecutive runs serve consecutive 3 s ticks: never two runs for one tick. */
function oncePerTick(runs: { scheduled_for: Date }[]): void {
  expect(runs.length).toBeGreaterThanOrEqual(3);
  expect(runs.length).toBeLessThanOrEqual(5);
  const ticks = runs.map((r) => new Date(r.scheduled_for).getTime());
  expect(new Set(ticks).size).toBe(ticks.length);
  for (let i = 1; i < ticks.length; i++) expect(ticks[i] - ticks[i - 1]).toBeGreaterThanOrEqual(2900);
}

describe('the scheduled checklist with two control-plane instances', () => {
  it('runs once per tick: one job per tick, taken by one of the two replicas', async () => {
    const { runs, taken, duplicates } = await twoReplicas<{ scheduled_for: Date; requested_by: string }>(
      (doc) => {
        doc.schedules.dailyChecklist = '*/3 * * * * *'; // every 3 s (seconds first), for the test
      },
      'checklist',
      'scheduled_for, requested_by',
    );
    oncePerTick(runs);
    expect(runs.every((r) => r.requested_by === 'scheduler')).toBe(true);
    // The queue made one job per tick: no replica even tried a tick another one ran.
    expect(duplicates).toBe(0);
    expect(taken).toBeGreaterThanOrEqual(runs.length - 1);
  });

  it('runs the hourly health check once per tick across two replicas, as its own kind', async () => {
    const { runs, taken, duplicates } = await twoReplicas<{ scheduled_for: Date; kind: string; items: { item: string }[] }>(
      (doc) => {
        doc.schedules.dailyChecklist = '0 0 1 1 *'; // not during the test
        doc.schedules.hourlyHealthCheck = '*/3 * * * * *'; // every 3 s (seconds first), for the test
      },
      'hourly_health',
      'scheduled_for, kind, items',
    );
    oncePerTick(runs);
    expect(runs.every((r) => r.kind === 'hourly')).toBe(true);
    expect(runs.every((r) => r.items.map((i) => i.item).join() === 'services,metrics')).toBe(true);
    expect(duplicates).toBe(0);
    expect(taken).toBeGreaterThanOrEqual(runs.length - 1);
  });
});
