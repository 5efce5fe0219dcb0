/**
 * The Prometheus-backed sections of the performance report (response_times, error_rates,
 * usage_patterns, the backend part of availability), from a few range queries run concurrently:
 * increase() per hour and endpoint for requests and latency buckets (each sample read once; the
 * bucket query split by time so that Prometheus evaluates it on several cores), increase() per
 * local day for error types and up, sample counts per coverage step. Values are computed only
 * from the data present; each day says which fraction of the expected samples was there, and
 * gaps are listed, never averaged in as zeros. Sums run over arrays indexed by hour and day.
 */
import { localTime, LocalTime, PerformanceSection, ReportPeriod, WEEKDAY_NAMES } from './report-period';
import { Buckets, coverageBetween, CoverageInput, findGaps, Gap, histogramQuantile, ratio, round, typicalCount } from './report-math';
import { PromQueryRunner, QueryRecord, Series } from './prom-query-runner';

const HOUR = 3_600_000;
const TOP = 10;
/** Time chunks of the latency bucket query (the heaviest by far): enough to keep every Prometheus core busy. */
const LATENCY_CHUNKS = 4;
/** Chunks of the hourly requests query and of the sample counts. */
const REQUESTS_CHUNKS = 2;

export interface ComputedFrom {
  promql: string;
  stepSeconds: number;
}

export interface DataCoverage {
  /** Fraction of the expected samples present over the period (up to evaluatedUntil). */
  ratio: number | null;
  expectedSamples: number;
  presentSamples: number;
  gaps: Gap[];
}

export interface DayCoverage {
  date: string;
  /** Fraction of expected samples present that day; null for a day after evaluatedUntil. */
  coverage: number | null;
}

export interface BuilderInput {
  period: ReportPeriod;
  include: PerformanceSection[];
  runner: PromQueryRunner;
  thresholds: { apiP95Seconds: number; errorRatePercent: number };
  /** Prometheus label selector of the backend's scrape target (for up). */
  upSelector: string;
}

export interface PrometheusSections {
  source: { stepSeconds: number; coverageStepSeconds: number; expectedSamplesPerCoverageStep: number | null; evaluatedUntil: string };
  coverage: DataCoverage & { days: (DayCoverage & { expectedSamples: number; presentSamples: number })[] };
  sections: Partial<Record<PerformanceSection, unknown>>;
  queries: QueryRecord[];
}

const Q = {
  /** Per endpoint and hour: hour and day quantiles (summed over endpoints), slowest endpoints (summed over hours). */
  latency: 'sum by (method, endpoint, le) (increase(http_request_duration_seconds_bucket[1h]))',
  /** Per endpoint, status and hour: totals, 5xx, the weekday × hour grid, endpoints, methods. */
  requests: 'sum by (method, endpoint, status) (increase(http_requests_total[1h]))',
  errorTypesDaily: (range: string) => `sum by (error_type) (increase(api_errors_total[${range}]))`,
  samples: (step: number) => `max(count_over_time(http_requests_total[${step}s]))`,
  upSum: (sel: string, range: string) => `sum(sum_over_time(up{${sel}}[${range}]))`,
  upCount: (sel: string, range: string) => `sum(count_over_time(up{${sel}}[${range}]))`,
};

/** Coverage resolution: one minute, coarser for long periods (Prometheus allows 11,000 points per series). */
export function coverageStepSeconds(periodMs: number): number {
  return Math.max(60, Math.ceil(periodMs / 1000 / 11_000 / 60) * 60);
}

/** Evaluation times start + step, … up to until (ms), on the period's grid. */
export function gridTimes(start: number, until: number, stepMs: number): number[] {
  const times: number[] = [];
  for (let t = start + stepMs; t <= until; t += stepMs) times.push(t);
  return times;
}

/** A PromQL range duration: 1d, 23h, 90m or 45s. */
export function promDuration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** One local day's evaluation: at its end (or at `until` for the day `until` falls in), over the day so far. */
export interface DayWindow {
  date: string;
  at: number;
  seconds: number;
}

/** The days of the period that have begun by `until` (ms), each with its window. */
export function dayWindows(period: ReportPeriod, until: number): DayWindow[] {
  const windows: DayWindow[] = [];
  for (const d of period.days) {
    const at = Math.min(d.end, until);
    if (at > d.start) windows.push({ date: d.date, at, seconds: Math.round((at - d.start) / 1000) });
  }
  return windows;
}

/**
 * Consecutive day windows of one length as one range query each (start, end, step = that
 * length): one query for a period in a zone without daylight saving time, a few more for a
 * 23 h or 25 h day and for a day still under way.
 */
export function dayRuns(windows: DayWindow[]): { start: number; end: number; seconds: number }[] {
  const runs: { start: number; end: number; seconds: number }[] = [];
  for (const w of windows) {
    const last = runs[runs.length - 1];
    if (last && last.seconds === w.seconds && w.at - last.end === w.seconds * 1000) last.end = w.at;
    else runs.push({ start: w.at, end: w.at, seconds: w.seconds });
  }
  return runs;
}

function endpointKey(m: Record<string, string>): string {
  return `${m.method ?? ''} ${m.endpoint ?? ''}`;
}

/** The array kept under `key`, made with `size` zeros when new. */
function arrayOf<K>(arrays: Map<K, Float64Array>, key: K, size: number): Float64Array {
  let a = arrays.get(key);
  if (!a) arrays.set(key, (a = new Float64Array(size)));
  return a;
}

/** The buckets (le → count) at one index of per-le arrays; empty when nothing was counted there. */
function bucketsAt(byLe: Map<number, Float64Array>, index: number): Buckets {
  const b: Buckets = new Map();
  for (const [le, a] of byLe) if (a[index] !== 0) b.set(le, a[index]);
  return b;
}

/** Per-le arrays summed into one set of buckets (optionally only the indexes `keep` accepts). */
function bucketsSum(byLe: Map<number, Float64Array>, keep?: (index: number) => boolean): Buckets {
  const b: Buckets = new Map();
  for (const [le, a] of byLe) {
    let v = 0;
    for (let i = 0; i < a.length; i++) if (!keep || keep(i)) v += a[i];
    b.set(le, v);
  }
  return b;
}

const leOf = (le: string | undefined) => (le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le));

export async function buildPrometheusSections(input: BuilderInput): Promise<PrometheusSections> {
  const { period, include, runner } = input;
  const covStep = coverageStepSeconds(period.end - period.start);
  const hourTimes = gridTimes(period.start, period.until, HOUR);
  const covTimes = gridTimes(period.start, period.until, covStep * 1000);
  const evaluatedUntil = covTimes.length ? covTimes[covTimes.length - 1] : period.start;
  const lastHour = hourTimes.length ? hourTimes[hourTimes.length - 1] : period.start;
  // Error types and up are needed per local day only: Prometheus sums each day itself (the day
  // so far for the day under way, up to the last whole hour, as the hourly figures).
  const dayWins = dayWindows(period, lastHour);
  const runs = dayRuns(dayWins);
  const hourly = (promql: string, chunks: number) =>
    runner.range({ promql, start: hourTimes[0] ?? period.start + HOUR, end: lastHour, stepSeconds: 3600, chunks });
  const dailyFrom = (family: (range: string) => string): ComputedFrom[] =>
    runs.map((r) => ({ promql: family(promDuration(r.seconds)), stepSeconds: r.seconds }));
  const daily = async (family: (range: string) => string, offsetMs?: number) =>
    (
      await Promise.all(
        runs.map((r) =>
          runner.range({ promql: family(promDuration(r.seconds)), start: r.start, end: r.end, stepSeconds: r.seconds, offsetMs }),
        ),
      )
    ).flat();
  const want = (s: PerformanceSection) => include.includes(s);

  // Every query is asked for at once: the runner runs each once, bounded, in this order: the
  // latency buckets' chunks first (the heaviest), so that they do not end last.
  const latencyP = want('response_times') ? hourly(Q.latency, LATENCY_CHUNKS) : null;
  const needsRequests = want('response_times') || want('error_rates') || want('usage_patterns');
  const requestsP = needsRequests ? hourly(Q.requests, REQUESTS_CHUNKS) : null;
  const samplesP = runner.range({
    promql: Q.samples(covStep),
    start: covTimes[0] ?? period.start + covStep * 1000,
    end: evaluatedUntil,
    stepSeconds: covStep,
    offsetMs: 1,
    chunks: REQUESTS_CHUNKS,
  });
  const errorTypesP = want('error_rates') ? daily(Q.errorTypesDaily) : null;
  // up at the end of a day is counted in that day only (left-open windows, 1 ms after the grid).
  const upP = want('availability')
    ? Promise.all([daily((r) => Q.upSum(input.upSelector, r), 1), daily((r) => Q.upCount(input.upSelector, r), 1)])
    : null;
  const [samples, requests, latency, errorTypes, up] = await Promise.all([samplesP, requestsP, latencyP, errorTypesP, upP]);

  // ---- coverage ----
  const counts = new Map<number, number>();
  for (const s of samples) s.times.forEach((t, i) => counts.set(t, s.values[i])); // one series (max), once per chunk
  const expected = typicalCount(counts.values());
  const cov: CoverageInput = { stepMs: covStep * 1000, times: covTimes, counts, expectedPerStep: expected ?? 1 };
  const whole = coverageBetween(cov, period.start, evaluatedUntil);
  const gaps = findGaps(cov);
  const dayCoverage = period.days.map((d) => {
    if (d.start >= evaluatedUntil) return { date: d.date, coverage: null, expectedSamples: 0, presentSamples: 0 };
    const c = coverageBetween(cov, d.start, Math.min(d.end, evaluatedUntil));
    return { date: d.date, coverage: round(c.ratio), expectedSamples: c.expected, presentSamples: c.present };
  });
  const coverageOf = new Map(dayCoverage.map((d) => [d.date, d.coverage]));
  const hasData = (date: string) => (coverageOf.get(date) ?? 0) > 0;
  const gapsIn = (from: number, to: number) => gaps.filter((g) => Date.parse(g.to) > from && Date.parse(g.from) < to);
  const coverage: PrometheusSections['coverage'] = {
    ratio: round(whole.ratio),
    expectedSamples: whole.expected,
    presentSamples: whole.present,
    gaps,
    days: dayCoverage,
  };
  const samplesFrom: ComputedFrom = { promql: Q.samples(covStep), stepSeconds: covStep };

  // ---- hours and days as array indexes ----
  // Hour windows (t - 1 h, t] belong to the local day and hour they start in.
  const H = hourTimes.length;
  const D = period.days.length;
  const firstHour = hourTimes[0] ?? 0;
  const dayIndex = new Map(period.days.map((d, i) => [d.date, i]));
  const hourLocal: LocalTime[] = hourTimes.map((t) => localTime(t - HOUR, period.timeZone));
  const hourDay = Int32Array.from(hourLocal, (l) => dayIndex.get(l.date) ?? -1);
  /** The index of an evaluation time on the hour grid, or -1. */
  const hourAt = (t: number) => {
    const i = (t - firstHour) / HOUR;
    return Number.isInteger(i) && i >= 0 && i < H ? i : -1;
  };
  const dayAt = new Map(dayWins.map((w) => [w.at, dayIndex.get(w.date)!]));
  const hourStart = (i: number) => new Date(hourTimes[i] - HOUR).toISOString();
  const localLabel = (i: number) => `${hourLocal[i].date} ${String(hourLocal[i].hour).padStart(2, '0')}:00`;
  const sections: PrometheusSections['sections'] = {};
  const commonCoverage = { ratio: coverage.ratio, gaps };

  // ---- requests: per hour (all endpoints), per endpoint and day ----
  interface EndpointTotals {
    method: string;
    endpoint: string;
    requests: number;
    errors: number;
    dayRequests: Float64Array;
    dayErrors: Float64Array;
  }
  const hourRequests = new Float64Array(H);
  const hourErrors = new Float64Array(H);
  const hourSeen = new Uint8Array(H);
  const endpoints = new Map<string, EndpointTotals>();
  const methods = new Map<string, number>();
  for (const series of requests ?? []) {
    const key = endpointKey(series.metric);
    let e = endpoints.get(key);
    if (!e)
      endpoints.set(
        key,
        (e = {
          method: series.metric.method ?? '',
          endpoint: series.metric.endpoint ?? '',
          requests: 0,
          errors: 0,
          dayRequests: new Float64Array(D),
          dayErrors: new Float64Array(D),
        }),
      );
    const is5xx = /^5/.test(series.metric.status ?? '');
    let sum = 0;
    const { times, values } = series;
    for (let k = 0; k < times.length; k++) {
      const i = hourAt(times[k]);
      const d = i < 0 ? -1 : hourDay[i];
      if (d < 0) continue;
      const v = values[k];
      sum += v;
      hourRequests[i] += v;
      hourSeen[i] = 1;
      e.dayRequests[d] += v;
      if (is5xx) {
        hourErrors[i] += v;
        e.dayErrors[d] += v;
      }
    }
    e.requests += sum;
    if (is5xx) e.errors += sum;
    methods.set(e.method, (methods.get(e.method) ?? 0) + sum);
  }
  const dayRequests = new Float64Array(D);
  const dayErrors = new Float64Array(D);
  let totalRequests = 0;
  let totalErrors = 0;
  for (let i = 0; i < H; i++) {
    if (hourDay[i] < 0) continue;
    dayRequests[hourDay[i]] += hourRequests[i];
    dayErrors[hourDay[i]] += hourErrors[i];
    totalRequests += hourRequests[i];
    totalErrors += hourErrors[i];
  }

  // ---- response_times ----
  if (want('response_times')) {
    // le → count per hour over every endpoint; endpoint → le → count per day.
    const hourBuckets = new Map<number, Float64Array>();
    const endpointDayBuckets = new Map<string, Map<number, Float64Array>>();
    for (const series of latency ?? []) {
      const le = leOf(series.metric.le);
      if (Number.isNaN(le)) continue;
      const key = endpointKey(series.metric);
      let byLe = endpointDayBuckets.get(key);
      if (!byLe) endpointDayBuckets.set(key, (byLe = new Map()));
      const hourCounts = arrayOf(hourBuckets, le, H);
      const dayCounts = arrayOf(byLe, le, D);
      const { times, values } = series;
      for (let k = 0; k < times.length; k++) {
        const i = hourAt(times[k]);
        const d = i < 0 ? -1 : hourDay[i];
        if (d < 0) continue;
        hourCounts[i] += values[k];
        dayCounts[d] += values[k];
      }
    }
    const quantiles = (b: Buckets) => ({
      p50Seconds: round(histogramQuantile(0.5, b)),
      p95Seconds: round(histogramQuantile(0.95, b)),
      p99Seconds: round(histogramQuantile(0.99, b)),
    });
    const target = input.thresholds.apiP95Seconds;
    const hoursAbove: { start: string; local: string; p95Seconds: number | null; requests: number }[] = [];
    const worstHours = new Array<{ start: string; local: string; p95Seconds: number } | null>(D).fill(null);
    for (let i = 0; i < H; i++) {
      const d = hourDay[i];
      if (d < 0) continue;
      const hb = bucketsAt(hourBuckets, i);
      const p95 = histogramQuantile(0.95, hb);
      if (p95 === null) continue;
      const worst = worstHours[d];
      if (!worst || p95 > worst.p95Seconds) worstHours[d] = { start: hourStart(i), local: localLabel(i), p95Seconds: round(p95)! };
      if (p95 > target)
        hoursAbove.push({
          start: hourStart(i),
          local: localLabel(i),
          p95Seconds: round(p95),
          requests: Math.round(hb.get(Number.POSITIVE_INFINITY) ?? 0),
        });
    }
    const days = period.days.map((d, di) => {
      const b = bucketsSum(hourBuckets, (i) => hourDay[i] === di);
      const q = hasData(d.date) ? quantiles(b) : { p50Seconds: null, p95Seconds: null, p99Seconds: null };
      return {
        date: d.date,
        coverage: coverageOf.get(d.date) ?? null,
        requests: hasData(d.date) ? Math.round(b.get(Number.POSITIVE_INFINITY) ?? 0) : null,
        ...q,
        meetsTarget: q.p95Seconds === null ? null : q.p95Seconds < target,
        worstHour: hasData(d.date) ? worstHours[di] : null,
        gaps: gapsIn(d.start, d.end),
      };
    });
    const slowest = [...endpointDayBuckets.entries()]
      .map(([key, byLe]) => {
        let worstDay: { date: string; p95Seconds: number } | null = null;
        for (let d = 0; d < D; d++) {
          const p95 = histogramQuantile(0.95, bucketsAt(byLe, d));
          if (p95 !== null && (!worstDay || p95 > worstDay.p95Seconds)) worstDay = { date: period.days[d].date, p95Seconds: round(p95)! };
        }
        const all = bucketsSum(byLe);
        const [method, ...rest] = key.split(' ');
        return {
          method,
          endpoint: rest.join(' '),
          requests: Math.round(all.get(Number.POSITIVE_INFINITY) ?? 0),
          p50Seconds: round(histogramQuantile(0.5, all)),
          p95Seconds: round(histogramQuantile(0.95, all)),
          worstDay,
        };
      })
      .filter((e) => e.p95Seconds !== null)
      .sort((a, b) => b.p95Seconds! - a.p95Seconds! || b.requests - a.requests)
      .slice(0, TOP);
    const overallBuckets = bucketsSum(hourBuckets, (i) => hourDay[i] >= 0);
    const overall = quantiles(overallBuckets);
    sections.response_times = {
      computedFrom: [{ promql: Q.latency, stepSeconds: 3600 }, samplesFrom],
      method:
        'Quantiles interpolated in the default histogram buckets (as histogram_quantile) from bucket increases per endpoint and hour: summed over the endpoints per hour, day and the period, and over the hours per endpoint.',
      target: {
        p95Seconds: target,
        met: overall.p95Seconds === null ? null : overall.p95Seconds < target,
        hoursAboveTarget: hoursAbove.length,
      },
      overall: { requests: Math.round(overallBuckets.get(Number.POSITIVE_INFINITY) ?? 0), ...overall },
      days,
      hoursAboveTarget: hoursAbove.slice(0, 50),
      slowestEndpoints: slowest,
      dataCoverage: commonCoverage,
    };
  }

  // ---- error_rates ----
  if (want('error_rates')) {
    const target = input.thresholds.errorRatePercent;
    const pct = (e: number, r: number) => round(ratio(e, r) === null ? null : (e / r) * 100, 4);
    const byType = new Map<string, { total: number; byDay: Float64Array }>();
    for (const series of errorTypes ?? []) {
      const type = series.metric.error_type ?? '';
      const entry = byType.get(type) ?? { total: 0, byDay: new Float64Array(D) };
      series.times.forEach((t, k) => {
        const d = dayAt.get(t);
        if (d === undefined) return;
        entry.total += series.values[k];
        entry.byDay[d] += series.values[k];
      });
      byType.set(type, entry);
    }
    const worstHours = new Array<{ start: string; local: string; ratePercent: number; requests: number; errors5xx: number } | null>(D).fill(
      null,
    );
    for (let i = 0; i < H; i++) {
      const d = hourDay[i];
      if (d < 0 || !(hourRequests[i] > 0)) continue;
      const p = (hourErrors[i] / hourRequests[i]) * 100;
      const worst = worstHours[d];
      if (!worst || p > worst.ratePercent)
        worstHours[d] = {
          start: hourStart(i),
          local: localLabel(i),
          ratePercent: round(p)!,
          requests: Math.round(hourRequests[i]),
          errors5xx: Math.round(hourErrors[i]),
        };
    }
    const days = period.days.map((d, di) => {
      if (!hasData(d.date))
        return {
          date: d.date,
          coverage: coverageOf.get(d.date) ?? null,
          requests: null,
          errors5xx: null,
          ratePercent: null,
          meetsTarget: null,
          worstHour: null,
          gaps: gapsIn(d.start, d.end),
        };
      const rate = pct(dayErrors[di], dayRequests[di]);
      return {
        date: d.date,
        coverage: coverageOf.get(d.date) ?? null,
        requests: Math.round(dayRequests[di]),
        errors5xx: Math.round(dayErrors[di]),
        ratePercent: rate,
        meetsTarget: rate === null ? null : rate < target,
        worstHour: worstHours[di],
        gaps: gapsIn(d.start, d.end),
      };
    });
    const overallRate = pct(totalErrors, totalRequests);
    const endpointsByRate = [...endpoints.values()]
      .filter((e) => e.requests > 0)
      .map((e) => {
        let worstDay: { date: string; ratePercent: number; errors5xx: number } | null = null;
        for (let d = 0; d < D; d++) {
          const p = e.dayRequests[d] > 0 ? (e.dayErrors[d] / e.dayRequests[d]) * 100 : 0;
          if (e.dayErrors[d] > 0 && (!worstDay || p > worstDay.ratePercent))
            worstDay = { date: period.days[d].date, ratePercent: round(p)!, errors5xx: Math.round(e.dayErrors[d]) };
        }
        return {
          method: e.method,
          endpoint: e.endpoint,
          requests: Math.round(e.requests),
          errors5xx: Math.round(e.errors),
          ratePercent: pct(e.errors, e.requests),
          worstDay,
        };
      })
      .sort((a, b) => (b.ratePercent ?? 0) - (a.ratePercent ?? 0) || b.errors5xx - a.errors5xx)
      .slice(0, TOP);
    sections.error_rates = {
      computedFrom: [{ promql: Q.requests, stepSeconds: 3600 }, ...dailyFrom(Q.errorTypesDaily), samplesFrom],
      method:
        '5xx share of http_requests_total (status label starting with 5), from increases per endpoint and hour, summed per hour, day, endpoint and over the period.',
      target: {
        maxPercent: target,
        met: overallRate === null ? null : overallRate < target,
        daysAboveTarget: days.filter((d) => d.meetsTarget === false).map((d) => d.date),
      },
      overall: { requests: Math.round(totalRequests), errors5xx: Math.round(totalErrors), ratePercent: overallRate },
      days,
      endpoints: endpointsByRate,
      errorTypes: [...byType.entries()]
        .map(([errorType, e]) => ({
          errorType,
          count: Math.round(e.total),
          days: period.days.map((d, di) => ({ date: d.date, count: hasData(d.date) ? Math.round(e.byDay[di]) : null })),
        }))
        .sort((a, b) => b.count - a.count),
      dataCoverage: commonCoverage,
    };
  }

  // ---- usage_patterns ----
  if (want('usage_patterns')) {
    const grid = WEEKDAY_NAMES.map(() => new Array<number>(24).fill(0));
    let peak: { start: string; local: string; requests: number } | null = null;
    for (let i = 0; i < H; i++) {
      if (!hourSeen[i] || hourDay[i] < 0) continue;
      const l = hourLocal[i];
      grid[l.weekday - 1][l.hour] += hourRequests[i];
      if (!peak || hourRequests[i] > peak.requests)
        peak = { start: hourStart(i), local: localLabel(i), requests: Math.round(hourRequests[i]) };
    }
    let peakCell: { weekday: string; hour: number; requests: number } | null = null;
    grid.forEach((hours, w) =>
      hours.forEach((v, hour) => {
        if (v > 0 && (!peakCell || v > peakCell.requests)) peakCell = { weekday: WEEKDAY_NAMES[w], hour, requests: Math.round(v) };
      }),
    );
    const share = (v: number) => round(totalRequests > 0 ? (v / totalRequests) * 100 : null, 2);
    sections.usage_patterns = {
      computedFrom: [{ promql: Q.requests, stepSeconds: 3600 }, samplesFrom],
      timeZone: period.timeZone,
      totalRequests: Math.round(totalRequests),
      days: period.days.map((d, di) => ({
        date: d.date,
        coverage: coverageOf.get(d.date) ?? null,
        requests: hasData(d.date) ? Math.round(dayRequests[di]) : null,
        gaps: gapsIn(d.start, d.end),
      })),
      weekdayHour: grid.map((hours, w) => ({ weekday: WEEKDAY_NAMES[w], hours: hours.map((v) => Math.round(v)) })),
      peakHour: peak,
      peakWeekdayHour: peakCell,
      topEndpoints: [...endpoints.values()]
        .sort((a, b) => b.requests - a.requests)
        .slice(0, TOP)
        .map((e) => ({ method: e.method, endpoint: e.endpoint, requests: Math.round(e.requests), sharePercent: share(e.requests) })),
      methods: [...methods.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([method, v]) => ({ method, requests: Math.round(v), sharePercent: share(v) })),
      dataCoverage: commonCoverage,
    };
  }

  // ---- availability (backend part) ----
  if (up) {
    const [sum, count] = up as [Series[], Series[]];
    const perDay = (series: Series[]) => {
      const byDay = new Float64Array(D);
      for (const s of series)
        s.times.forEach((t, k) => {
          const d = dayAt.get(t);
          if (d !== undefined) byDay[d] += s.values[k];
        });
      return byDay;
    };
    const upDays = perDay(sum);
    const scrapeDays = perDay(count);
    let upAll = 0;
    let samplesAll = 0;
    const days = period.days.map((d, di) => {
      upAll += upDays[di];
      samplesAll += scrapeDays[di];
      return {
        date: d.date,
        upRatio: round(ratio(upDays[di], scrapeDays[di])),
        scrapes: Math.round(scrapeDays[di]),
        gaps: gapsIn(d.start, d.end),
      };
    });
    sections.availability = {
      backend: {
        computedFrom: [...dailyFrom((r) => Q.upSum(input.upSelector, r)), ...dailyFrom((r) => Q.upCount(input.upSelector, r))],
        method:
          "Share of the backend's scrapes that succeeded (up = 1), counted per local day; scrapes missing (Prometheus down, or no up series, e.g. loaded history) are not counted either way.",
        upRatio: round(ratio(upAll, samplesAll)),
        scrapes: Math.round(samplesAll),
        days,
      },
    };
  }

  return {
    source: {
      stepSeconds: 3600,
      coverageStepSeconds: covStep,
      expectedSamplesPerCoverageStep: expected,
      evaluatedUntil: new Date(evaluatedUntil).toISOString(),
    },
    coverage,
    sections,
    queries: runner.records,
  };
}
