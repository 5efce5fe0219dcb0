/** Pure logic of the performance report: periods in a time zone, request validation, quantiles, coverage and gaps. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { coverageStepSeconds, dayRuns, dayWindows, gridTimes, promDuration } from '../../src/modules/reports/performance-report.builder';
import { PromQueryRunner, splitRange } from '../../src/modules/reports/prom-query-runner';
import { systemOverview } from '../../src/modules/reports/review/review-dashboards';
import { parseInventory } from '../../src/config/inventory.loader';
import { projectRoot } from '../../src/common/paths';
import { coverageBetween, findGaps, histogramQuantile, typicalCount } from '../../src/modules/reports/report-math';
import {
  addDays,
  buildPeriod,
  isCalendarDate,
  localTime,
  startOfLocalDay,
  validatePerformanceRequest,
} from '../../src/modules/reports/report-period';

const JAKARTA = 'Asia/Jakarta';
const NOW = Date.parse('2026-01-20T05:00:00Z'); // 12:00 WIB on 2026-01-20

describe('report periods in the inventory time zone', () => {
  it('checks real calendar dates', () => {
    expect(isCalendarDate('2026-01-13')).toBe(true);
    expect(isCalendarDate('2024-02-29')).toBe(true);
    for (const bad of ['2026-02-29', '2026-02-30', '2026-13-01', '2026-1-13', '2026-01-13T00:00:00Z', '13-01-2026', '', 20260113, null])
      expect(isCalendarDate(bad)).toBe(false);
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
  });

  it('starts a day at local midnight: Jakarta is UTC+7, New York changes with DST', () => {
    expect(new Date(startOfLocalDay('2026-01-13', JAKARTA)).toISOString()).toBe('2026-01-12T17:00:00.000Z');
    expect(new Date(startOfLocalDay('2026-01-13', 'UTC')).toISOString()).toBe('2026-01-13T00:00:00.000Z');
    expect(new Date(startOfLocalDay('2026-03-08', 'America/New_York')).toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(new Date(startOfLocalDay('2026-03-09', 'America/New_York')).toISOString()).toBe('2026-03-09T04:00:00.000Z');
    expect(localTime(Date.parse('2026-01-12T17:00:00Z'), JAKARTA)).toEqual({ date: '2026-01-13', hour: 0, minute: 0, weekday: 2 });
  });

  it("builds the runbook's week: 7 local days, inclusive, read up to now when it reaches into the future", () => {
    const p = buildPeriod('2026-01-13', '2026-01-19', JAKARTA, NOW);
    expect(p.days.map((d) => d.date)).toEqual([
      '2026-01-13',
      '2026-01-14',
      '2026-01-15',
      '2026-01-16',
      '2026-01-17',
      '2026-01-18',
      '2026-01-19',
    ]);
    expect(new Date(p.start).toISOString()).toBe('2026-01-12T17:00:00.000Z');
    expect(new Date(p.end).toISOString()).toBe('2026-01-19T17:00:00.000Z');
    expect(p.until).toBe(p.end);
    const today = buildPeriod('2026-01-20', '2026-01-21', JAKARTA, NOW);
    expect(today.until).toBe(NOW);
    const dst = buildPeriod('2026-03-08', '2026-03-08', 'America/New_York', NOW);
    expect(dst.days[0].end - dst.days[0].start).toBe(23 * 3_600_000);
  });
});

describe('performance report request validation', () => {
  const check = (body: Record<string, unknown>) => validatePerformanceRequest(body, JAKARTA, NOW);

  it("accepts the runbook's body and defaults the sections", () => {
    expect(check({ start_date: '2026-01-13', end_date: '2026-01-19', include: ['usage_patterns', 'response_times'] }).value).toEqual({
      startDate: '2026-01-13',
      endDate: '2026-01-19',
      include: ['response_times', 'usage_patterns'],
    });
    expect(check({ start_date: '2026-01-13', end_date: '2026-01-13' }).value?.include).toEqual([
      'response_times',
      'error_rates',
      'usage_patterns',
    ]);
    expect(check({ start_date: '2026-01-20', end_date: '2026-02-10', include: ['backups', 'availability'] }).value?.include).toEqual([
      'availability',
      'backups',
    ]);
  });

  it('names the field and the allowed values for each problem', () => {
    const problem = (body: Record<string, unknown>) => check(body).problems;
    expect(problem({ end_date: '2026-01-19' })).toEqual([{ field: 'start_date', problem: expect.stringContaining('is required') }]);
    expect(problem({ start_date: '2026-02-30', end_date: '2026-03-01' })).toEqual([
      { field: 'start_date', problem: expect.stringContaining('real calendar date YYYY-MM-DD') },
    ]);
    expect(problem({ start_date: '2026-01-13', end_date: 19 })[0].field).toBe('end_date');
    expect(problem({ start_date: '2026-01-19', end_date: '2026-01-13' })).toEqual([
      { field: 'end_date', problem: 'must not be before start_date (2026-01-19)' },
    ]);
    expect(problem({ start_date: '2025-10-01', end_date: '2026-01-01' })).toEqual([
      { field: 'end_date', problem: expect.stringContaining('at most 92 days') },
    ]);
    expect(problem({ start_date: '2025-10-01', end_date: '2025-12-31' })).toEqual([]);
    expect(problem({ start_date: '2026-01-21', end_date: '2026-01-22' })).toEqual([
      { field: 'start_date', problem: expect.stringContaining('is in the future: today is 2026-01-20 in Asia/Jakarta') },
    ]);
    const sections = problem({ start_date: '2026-01-13', end_date: '2026-01-19', include: ['response_times', 'latency'] });
    expect(sections).toEqual([{ field: 'include', problem: expect.stringContaining('"latency" is not a known section') }]);
    expect(sections[0].problem).toContain('response_times, error_rates, usage_patterns, availability, backups');
    expect(problem({ start_date: '2026-01-13', end_date: '2026-01-19', include: [] })[0].field).toBe('include');
    expect(problem({ start_date: '2026-01-13', end_date: '2026-01-19', include: 'response_times' })[0].field).toBe('include');
  });

  it('today counts in the zone: 2026-01-20 has begun in Jakarta at 18:00 UTC on the 19th', () => {
    const evening = Date.parse('2026-01-19T18:00:00Z');
    expect(validatePerformanceRequest({ start_date: '2026-01-20', end_date: '2026-01-20' }, JAKARTA, evening).problems).toEqual([]);
    expect(validatePerformanceRequest({ start_date: '2026-01-20', end_date: '2026-01-20' }, 'UTC', evening).problems[0].field).toBe(
      'start_date',
    );
  });
});

describe('histogram quantiles (as histogram_quantile)', () => {
  const b = (pairs: [number, number][]) => new Map(pairs);

  it('interpolates inside the bucket, the first from 0, +Inf answers the highest finite bound', () => {
    const h = b([
      [0.1, 50],
      [0.5, 90],
      [1, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    expect(histogramQuantile(0.5, h)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.25, h)).toBeCloseTo(0.05);
    expect(histogramQuantile(0.7, h)).toBeCloseTo(0.3);
    expect(histogramQuantile(0.95, h)).toBeCloseTo(0.75);
    expect(
      histogramQuantile(
        0.99,
        b([
          [0.1, 50],
          [1, 90],
          [Number.POSITIVE_INFINITY, 100],
        ]),
      ),
    ).toBe(1);
    expect(
      histogramQuantile(
        0.5,
        b([
          [0.1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ]),
      ),
    ).toBeNull();
    expect(
      histogramQuantile(
        0.5,
        b([
          [0.1, 3],
          [1, 4],
        ]),
      ),
    ).toBeNull();
  });

  it('tolerates slightly non-monotonic bucket increases', () => {
    expect(
      histogramQuantile(
        0.5,
        b([
          [0.1, 50.2],
          [0.5, 50],
          [Number.POSITIVE_INFINITY, 100],
        ]),
      ),
    ).toBeCloseTo(0.5 - 0, 0);
  });
});

describe('sample coverage and gaps', () => {
  const step = 60_000;
  const start = Date.parse('2026-01-13T00:00:00Z');
  const times = gridTimes(start, start + 60 * step, step);

  it('evaluation times start one step after the period start', () => {
    expect(times.length).toBe(60);
    expect(times[0]).toBe(start + step);
    expect(coverageStepSeconds(7 * 86_400_000)).toBe(60);
    expect(coverageStepSeconds(8 * 86_400_000)).toBe(120);
    expect(coverageStepSeconds(92 * 86_400_000)).toBe(780);
  });

  it('finds an outage, ignores a single late scrape, and counts coverage from what is there', () => {
    const counts = new Map(times.map((t) => [t, 4]));
    counts.set(times[5], 3); // jitter: one sample missing
    for (let i = 20; i < 23; i++) counts.delete(times[i]); // 3 minutes down
    counts.set(times[23], 2);
    const cov = { stepMs: step, times, counts, expectedPerStep: typicalCount(counts.values())! };
    expect(cov.expectedPerStep).toBe(4);
    expect(findGaps(cov)).toEqual([{ from: new Date(times[19]).toISOString(), to: new Date(times[23]).toISOString(), missingSamples: 14 }]);
    const c = coverageBetween(cov, start, start + 60 * step);
    expect(c.expected).toBe(240);
    expect(c.present).toBe(240 - 15);
    expect(coverageBetween(cov, start, start + 10 * step).ratio).toBeCloseTo(39 / 40);
  });

  it('a period with no data before the history is one gap and coverage 0, not zeros', () => {
    const counts = new Map(times.slice(30).map((t) => [t, 4]));
    const cov = { stepMs: step, times, counts, expectedPerStep: 4 };
    expect(findGaps(cov)).toEqual([{ from: new Date(start).toISOString(), to: new Date(times[29]).toISOString(), missingSamples: 120 }]);
    expect(coverageBetween(cov, start, times[29]).ratio).toBe(0);
    expect(coverageBetween(cov, times[29], times[59]).ratio).toBe(1);
  });
});

describe("the report's query plan", () => {
  const H = 3_600_000;

  it('names ranges as PromQL durations', () => {
    expect([86_400, 172_800, 82_800, 90_000, 5_400, 45].map(promDuration)).toEqual(['1d', '2d', '23h', '25h', '90m', '45s']);
  });

  it('evaluates each local day once at its end; days of one length are one range query', () => {
    const week = buildPeriod('2026-01-13', '2026-01-19', JAKARTA, Date.parse('2026-02-01T00:00:00Z'));
    const windows = dayWindows(week, week.end);
    expect(windows.map((w) => w.seconds)).toEqual(new Array(7).fill(86_400));
    expect(windows[0].at).toBe(week.days[0].end);
    expect(dayRuns(windows)).toEqual([{ start: week.days[0].end, end: week.days[6].end, seconds: 86_400 }]);
  });

  it('a 23 h day (daylight saving time) and the day under way get queries of their own', () => {
    // Berlin: 2026-03-29 has 23 hours; the period is read until 10:00 local time on 2026-03-31.
    const until = Date.parse('2026-03-31T08:00:00Z');
    const p = buildPeriod('2026-03-27', '2026-03-31', 'Europe/Berlin', until);
    const windows = dayWindows(p, until);
    expect(windows.map((w) => [w.date, w.seconds])).toEqual([
      ['2026-03-27', 86_400],
      ['2026-03-28', 86_400],
      ['2026-03-29', 82_800],
      ['2026-03-30', 86_400],
      ['2026-03-31', 10 * 3600],
    ]);
    const runs = dayRuns(windows);
    expect(runs.map((r) => r.seconds)).toEqual([86_400, 82_800, 86_400, 36_000]);
    expect(runs[0]).toEqual({ start: p.days[0].end, end: p.days[1].end, seconds: 86_400 });
    expect(runs[3]).toEqual({ start: until, end: until, seconds: 36_000 });
    // Every day's window ends where it is evaluated and starts at local midnight.
    for (const w of windows) expect(w.at - w.seconds * 1000).toBe(p.days.find((d) => d.date === w.date)!.start);
  });

  it('splits a range into disjoint runs of whole steps that cover it', () => {
    const start = Date.parse('2026-01-12T18:00:00Z');
    for (const [steps, chunks] of [
      [168, 4],
      [2160, 4],
      [5, 4],
      [1, 4],
      [7, 2],
      [10, 1],
    ]) {
      const parts = splitRange(start, start + (steps - 1) * H, H, chunks);
      expect(parts.length).toBeLessThanOrEqual(chunks);
      if (steps % chunks === 0) expect(parts.length).toBe(chunks);
      const times: number[] = [];
      for (const part of parts) {
        expect((part.end - part.start) / H + 1).toBeLessThanOrEqual(Math.ceil(steps / chunks));
        for (let t = part.start; t <= part.end; t += H) times.push(t);
      }
      expect(times).toEqual(Array.from({ length: steps }, (_, i) => start + i * H));
    }
    expect(splitRange(start, start - H, H, 4)).toEqual([]);
  });

  it('runs each distinct query once, at most `concurrency` requests at a time, chunks in time order', async () => {
    let active = 0;
    let most = 0;
    const asked: { promql: string; start: number; end: number }[] = [];
    const port = {
      query: async () => [],
      queryRange: async (promql: string, range: { start: Date; end: Date; stepSeconds: number }) => {
        asked.push({ promql, start: range.start.getTime(), end: range.end.getTime() });
        most = Math.max(most, ++active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        const times: number[] = [];
        for (let t = range.start.getTime(); t <= range.end.getTime(); t += range.stepSeconds * 1000) times.push(t / 1000);
        return [
          {
            metric: { le: '+Inf' },
            times: Float64Array.from(times),
            values: Float64Array.from(times, (_, i) => (i === 0 ? Number.NaN : 1)),
          },
        ];
      },
    };
    const runner = new PromQueryRunner(port, { concurrency: 2, timeoutMs: 1000 });
    const start = Date.parse('2026-01-12T18:00:00Z');
    const spec = { promql: 'x', start, end: start + 9 * H, stepSeconds: 3600, chunks: 3 };
    const [a, b, c] = await Promise.all([
      runner.range(spec),
      runner.range({ ...spec }),
      runner.range({ ...spec, promql: 'y', chunks: 1, offsetMs: 1 }),
    ]);
    expect(a).toBe(b);
    expect(asked.filter((q) => q.promql === 'x').map((q) => [q.start, q.end])).toEqual([
      [start, start + 3 * H],
      [start + 4 * H, start + 7 * H],
      [start + 8 * H, start + 9 * H],
    ]);
    expect(most).toBe(2);
    // Each chunk's first value was NaN (dropped); times are ms on the grid (the offset taken off).
    expect(a.map((s) => Array.from(s.times))).toEqual([
      [start + 1 * H, start + 2 * H, start + 3 * H],
      [start + 5 * H, start + 6 * H, start + 7 * H],
      [start + 9 * H],
    ]);
    expect(Array.from(c[0].times)).toEqual(Array.from({ length: 9 }, (_, i) => start + (i + 1) * H));
    expect(asked.find((q) => q.promql === 'y')!.start).toBe(start + 1);
    expect(runner.records.map((r) => [r.promql, r.chunks, r.points])).toEqual(
      expect.arrayContaining([
        ['x', 3, 7],
        ['y', 1, 9],
      ]),
    );
    expect(await runner.range({ ...spec, end: start - H })).toEqual([]);
  });
});

describe('the daily review without a node exporter', () => {
  it('network and load are unknown, saying why, when Prometheus has no node_* series', async () => {
    const file = join(projectRoot(), 'ops.example.yaml');
    const inventory = parseInventory(readFileSync(file, 'utf8'), file, {});
    const asked: string[] = [];
    const prometheus = { query: async (q: string) => (asked.push(q), []), queryRange: async () => [] };
    const window = { from: new Date('2026-01-19T01:00:00Z'), to: new Date('2026-01-20T01:00:00Z') };
    const d = await systemOverview({
      inventory,
      prometheus,
      docker: {} as never,
      host: {} as never,
      db: {} as never,
      window,
      current: false,
      timeoutMs: 1000,
    });
    const byId = new Map(d.metrics.map((m) => [m.metric, m]));
    expect(byId.get('network')).toMatchObject({
      verdict: 'unknown',
      value: null,
      observed: expect.stringMatching(/no node-exporter series/),
    });
    expect(byId.get('load')).toMatchObject({ verdict: 'unknown', value: null, observed: expect.stringMatching(/no node-exporter series/) });
    expect(asked.some((q) => q.includes('node_load1'))).toBe(true);
  });
});
