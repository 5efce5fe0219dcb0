/** Pure logic of the performance report: periods in a time zone, request validation, quantiles, coverage and gaps. */
import { describe, it } from 'node:test';
import { expect } from 'expect';
import { coverageStepSeconds, gridTimes } from '../../src/modules/reports/performance-report.builder';
import { coverageBetween, findGaps, histogramQuantile, mapBounded, typicalCount } from '../../src/modules/reports/report-math';
import { addDays, buildPeriod, isCalendarDate, localTime, startOfLocalDay, validatePerformanceRequest } from '../../src/modules/reports/report-period';

const JAKARTA = 'Asia/Jakarta';
const NOW = Date.parse('2026-01-20T05:00:00Z'); // 12:00 WIB on 2026-01-20

describe('report periods in the inventory time zone', () => {
  it('checks real calendar dates', () => {
    expect(isCalendarDate('2026-01-13')).toBe(true);
    expect(isCalendarDate('2024-02-29')).toBe(true);
    for (const bad of ['2026-02-29', '2026-02-30', '2026-13-01', '2026-1-13', '2026-01-13T00:00:00Z', '13-01-2026', '', 20260113, null]) expect(isCalendarDate(bad)).toBe(false);
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

  it('builds the runbook\'s week: 7 local days, inclusive, read up to now when it reaches into the future', () => {
    const p = buildPeriod('2026-01-13', '2026-01-19', JAKARTA, NOW);
    expect(p.days.map((d) => d.date)).toEqual(['2026-01-13', '2026-01-14', '2026-01-15', '2026-01-16', '2026-01-17', '2026-01-18', '2026-01-19']);
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

  it('accepts the runbook\'s body and defaults the sections', () => {
    expect(check({ start_date: '2026-01-13', end_date: '2026-01-19', include: ['usage_patterns', 'response_times'] }).value).toEqual({ startDate: '2026-01-13', endDate: '2026-01-19', include: ['response_times', 'usage_patterns'] });
    expect(check({ start_date: '2026-01-13', end_date: '2026-01-13' }).value?.include).toEqual(['response_times', 'error_rates', 'usage_patterns']);
    expect(check({ start_date: '2026-01-20', end_date: '2026-02-10', include: ['backups', 'availability'] }).value?.include).toEqual(['availability', 'backups']);
  });

  it('names the field and the allowed values for each problem', () => {
    const problem = (body: Record<string, unknown>) => check(body).problems;
    expect(problem({ end_date: '2026-01-19' })).toEqual([{ field: 'start_date', problem: expect.stringContaining('is required') }]);
    expect(problem({ start_date: '2026-02-30', end_date: '2026-03-01' })).toEqual([{ field: 'start_date', problem: expect.stringContaining('real calendar date YYYY-MM-DD') }]);
    expect(problem({ start_date: '2026-01-13', end_date: 19 })[0].field).toBe('end_date');
    expect(problem({ start_date: '2026-01-19', end_date: '2026-01-13' })).toEqual([{ field: 'end_date', problem: 'must not be before start_date (2026-01-19)' }]);
    expect(problem({ start_date: '2025-10-01', end_date: '2026-01-01' })).toEqual([{ field: 'end_date', problem: expect.stringContaining('at most 92 days') }]);
    expect(problem({ start_date: '2025-10-01', end_date: '2025-12-31' })).toEqual([]);
    expect(problem({ start_date: '2026-01-21', end_date: '2026-01-22' })).toEqual([{ field: 'start_date', problem: expect.stringContaining('is in the future: today is 2026-01-20 in Asia/Jakarta') }]);
    const sections = problem({ start_date: '2026-01-13', end_date: '2026-01-19', include: ['response_times', 'latency'] });
    expect(sections).toEqual([{ field: 'include', problem: expect.stringContaining('"latency" is not a known section') }]);
    expect(sections[0].problem).toContain('response_times, error_rates, usage_patterns, availability, backups');
    expect(problem({ start_date: '2026-01-13', end_date: '2026-01-19', include: [] })[0].field).toBe('include');
    expect(problem({ start_date: '2026-01-13', end_date: '2026-01-19', include: 'response_times' })[0].field).toBe('include');
  });

  it('today counts in the zone: 2026-01-20 has begun in Jakarta at 18:00 UTC on the 19th', () => {
    const evening = Date.parse('2026-01-19T18:00:00Z');
    expect(validatePerformanceRequest({ start_date: '2026-01-20', end_date: '2026-01-20' }, JAKARTA, evening).problems).toEqual([]);
    expect(validatePerformanceRequest({ start_date: '2026-01-20', end_date: '2026-01-20' }, 'UTC', evening).problems[0].field).toBe('start_date');
  });
});

describe('histogram quantiles (as histogram_quantile)', () => {
  const b = (pairs: [number, number][]) => new Map(pairs);

  it('interpolates inside the bucket, the first from 0, +Inf answers the highest finite bound', () => {
    const h = b([[0.1, 50], [0.5, 90], [1, 100], [Number.POSITIVE_INFINITY, 100]]);
    expect(histogramQuantile(0.5, h)).toBeCloseTo(0.1);
    expect(histogramQuantile(0.25, h)).toBeCloseTo(0.05);
    expect(histogramQuantile(0.7, h)).toBeCloseTo(0.3);
    expect(histogramQuantile(0.95, h)).toBeCloseTo(0.75);
    expect(histogramQuantile(0.99, b([[0.1, 50], [1, 90], [Number.POSITIVE_INFINITY, 100]]))).toBe(1);
    expect(histogramQuantile(0.5, b([[0.1, 0], [Number.POSITIVE_INFINITY, 0]]))).toBeNull();
    expect(histogramQuantile(0.5, b([[0.1, 3], [1, 4]]))).toBeNull();
  });

  it('tolerates slightly non-monotonic bucket increases', () => {
    expect(histogramQuantile(0.5, b([[0.1, 50.2], [0.5, 50], [Number.POSITIVE_INFINITY, 100]]))).toBeCloseTo(0.5 - 0, 0);
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

  it('runs tasks bounded, results in order', async () => {
    let active = 0;
    let most = 0;
    const out = await mapBounded([5, 1, 3, 2, 4], 2, async (n) => {
      most = Math.max(most, ++active);
      await new Promise((r) => setTimeout(r, n * 3));
      active--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 30, 20, 40]);
    expect(most).toBe(2);
  });
});
