/**
 * What every Prometheus-backed section of the performance report is built from: the period's
 * hours and days as array indexes, the data coverage, and the request totals per hour, day and
 * endpoint (shared by response_times, error_rates and usage_patterns). Pure: the queries are
 * run before (performance-report.builder.ts), the sections are built after (one file each).
 */
import { localTime, LocalTime, ReportPeriod } from '../report-period';
import { Buckets, coverageBetween, CoverageInput, findGaps, Gap, round, typicalCount } from '../report-math';
import { Series } from '../prom-query-runner';

export const HOUR = 3_600_000;
/** How many endpoints the rankings list. */
export const TOP = 10;

/** The PromQL of the report's queries (also shown in each section's computedFrom). */
export const Q = {
  /** Per endpoint and hour: hour and day quantiles (summed over endpoints), slowest endpoints (summed over hours). */
  latency: 'sum by (method, endpoint, le) (increase(http_request_duration_seconds_bucket[1h]))',
  /** Per endpoint, status and hour: totals, 5xx, the weekday × hour grid, endpoints, methods. */
  requests: 'sum by (method, endpoint, status) (increase(http_requests_total[1h]))',
  errorTypesDaily: (range: string) => `sum by (error_type) (increase(api_errors_total[${range}]))`,
  samples: (step: number) => `max(count_over_time(http_requests_total[${step}s]))`,
  upSum: (sel: string, range: string) => `sum(sum_over_time(up{${sel}}[${range}]))`,
  upCount: (sel: string, range: string) => `sum(count_over_time(up{${sel}}[${range}]))`,
};

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

export type ReportCoverage = DataCoverage & { days: (DayCoverage & { expectedSamples: number; presentSamples: number })[] };

/** One local day's evaluation: at its end (or at `until` for the day `until` falls in), over the day so far. */
export interface DayWindow {
  date: string;
  at: number;
  seconds: number;
}

/** Consecutive day windows of one length, evaluated as one range query. */
export interface DayRun {
  start: number;
  end: number;
  seconds: number;
}

/** A PromQL range duration: 1d, 23h, 90m or 45s. */
export function promDuration(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** The period's evaluation grid: hour ends, coverage steps and the local days' windows. */
export interface ReportGrid {
  period: ReportPeriod;
  coverageStepSeconds: number;
  hourTimes: number[];
  coverageTimes: number[];
  evaluatedUntil: number;
  /** Each local day's window (up to its end, or the last whole hour). */
  dayWindows: DayWindow[];
  /** The day windows as range queries. */
  dayRuns: DayRun[];
}

/** The coverage of the period and of each day, from the sample counts per coverage step. */
export function measureCoverage(grid: ReportGrid, samples: Series[]): { coverage: ReportCoverage; expected: number | null } {
  const { period, evaluatedUntil } = grid;
  const counts = new Map<number, number>();
  for (const s of samples) s.times.forEach((t, i) => counts.set(t, s.values[i])); // one series (max), once per chunk
  const expected = typicalCount(counts.values());
  const cov: CoverageInput = { stepMs: grid.coverageStepSeconds * 1000, times: grid.coverageTimes, counts, expectedPerStep: expected ?? 1 };
  const whole = coverageBetween(cov, period.start, evaluatedUntil);
  const days = period.days.map((d) => {
    if (d.start >= evaluatedUntil) return { date: d.date, coverage: null, expectedSamples: 0, presentSamples: 0 };
    const c = coverageBetween(cov, d.start, Math.min(d.end, evaluatedUntil));
    return { date: d.date, coverage: round(c.ratio), expectedSamples: c.expected, presentSamples: c.present };
  });
  const coverage = { ratio: round(whole.ratio), expectedSamples: whole.expected, presentSamples: whole.present, gaps: findGaps(cov), days };
  return { coverage, expected };
}

/** The grid and coverage as the section builders use them: indexes, labels and lookups. */
export interface SectionContext {
  period: ReportPeriod;
  /** Number of hours and of days. */
  H: number;
  D: number;
  /** Each hour's local time (of its start) and local day index (-1 outside the period). */
  hourLocal: LocalTime[];
  hourDay: Int32Array;
  /** The index of an evaluation time on the hour grid, or -1. */
  hourAt(t: number): number;
  /** The day index of a daily evaluation time. */
  dayAt: Map<number, number>;
  hourStart(i: number): string;
  localLabel(i: number): string;
  coverageOf: Map<string, number | null>;
  hasData(date: string): boolean;
  gapsIn(from: number, to: number): Gap[];
  commonCoverage: { ratio: number | null; gaps: Gap[] };
  samplesFrom: ComputedFrom;
  /** What a per-day query family was computed from (one entry per day run). */
  dailyFrom(family: (range: string) => string): ComputedFrom[];
}

export function sectionContext(grid: ReportGrid, coverage: ReportCoverage): SectionContext {
  const { period, hourTimes } = grid;
  // Hour windows (t - 1 h, t] belong to the local day and hour they start in.
  const H = hourTimes.length;
  const firstHour = hourTimes[0] ?? 0;
  const dayIndex = new Map(period.days.map((d, i) => [d.date, i]));
  const hourLocal = hourTimes.map((t) => localTime(t - HOUR, period.timeZone));
  const coverageOf = new Map(coverage.days.map((d) => [d.date, d.coverage]));
  return {
    period,
    H,
    D: period.days.length,
    hourLocal,
    hourDay: Int32Array.from(hourLocal, (l) => dayIndex.get(l.date) ?? -1),
    hourAt: (t) => {
      const i = (t - firstHour) / HOUR;
      return Number.isInteger(i) && i >= 0 && i < H ? i : -1;
    },
    dayAt: new Map(grid.dayWindows.map((w) => [w.at, dayIndex.get(w.date)!])),
    hourStart: (i) => new Date(hourTimes[i] - HOUR).toISOString(),
    localLabel: (i) => `${hourLocal[i].date} ${String(hourLocal[i].hour).padStart(2, '0')}:00`,
    coverageOf,
    hasData: (date) => (coverageOf.get(date) ?? 0) > 0,
    gapsIn: (from, to) => coverage.gaps.filter((g) => Date.parse(g.to) > from && Date.parse(g.from) < to),
    commonCoverage: { ratio: coverage.ratio, gaps: coverage.gaps },
    samplesFrom: { promql: Q.samples(grid.coverageStepSeconds), stepSeconds: grid.coverageStepSeconds },
    dailyFrom: (family) => grid.dayRuns.map((r) => ({ promql: family(promDuration(r.seconds)), stepSeconds: r.seconds })),
  };
}

export interface EndpointTotals {
  method: string;
  endpoint: string;
  requests: number;
  errors: number;
  dayRequests: Float64Array;
  dayErrors: Float64Array;
}

/** Requests and 5xx per hour (all endpoints), per day, per endpoint and day, per method. */
export interface RequestTotals {
  hourRequests: Float64Array;
  hourErrors: Float64Array;
  hourSeen: Uint8Array;
  endpoints: Map<string, EndpointTotals>;
  methods: Map<string, number>;
  dayRequests: Float64Array;
  dayErrors: Float64Array;
  totalRequests: number;
  totalErrors: number;
}

export function endpointKey(m: Record<string, string>): string {
  return `${m.method ?? ''} ${m.endpoint ?? ''}`;
}

function endpointOf(endpoints: Map<string, EndpointTotals>, metric: Record<string, string>, D: number): EndpointTotals {
  const key = endpointKey(metric);
  let e = endpoints.get(key);
  if (!e) {
    e = {
      method: metric.method ?? '',
      endpoint: metric.endpoint ?? '',
      requests: 0,
      errors: 0,
      dayRequests: new Float64Array(D),
      dayErrors: new Float64Array(D),
    };
    endpoints.set(key, e);
  }
  return e;
}

/** The request totals from the hourly requests series (increase per endpoint, status and hour). */
export function requestTotals(ctx: SectionContext, requests: Series[]): RequestTotals {
  const { H, D, hourDay } = ctx;
  const t: RequestTotals = {
    hourRequests: new Float64Array(H),
    hourErrors: new Float64Array(H),
    hourSeen: new Uint8Array(H),
    endpoints: new Map(),
    methods: new Map(),
    dayRequests: new Float64Array(D),
    dayErrors: new Float64Array(D),
    totalRequests: 0,
    totalErrors: 0,
  };
  for (const series of requests) {
    const e = endpointOf(t.endpoints, series.metric, D);
    const is5xx = /^5/.test(series.metric.status ?? '');
    let sum = 0;
    const { times, values } = series;
    for (let k = 0; k < times.length; k++) {
      const i = ctx.hourAt(times[k]);
      const d = i < 0 ? -1 : hourDay[i];
      if (d < 0) continue;
      const v = values[k];
      sum += v;
      t.hourRequests[i] += v;
      t.hourSeen[i] = 1;
      e.dayRequests[d] += v;
      if (is5xx) {
        t.hourErrors[i] += v;
        e.dayErrors[d] += v;
      }
    }
    e.requests += sum;
    if (is5xx) e.errors += sum;
    t.methods.set(e.method, (t.methods.get(e.method) ?? 0) + sum);
  }
  for (let i = 0; i < H; i++) {
    if (hourDay[i] < 0) continue;
    t.dayRequests[hourDay[i]] += t.hourRequests[i];
    t.dayErrors[hourDay[i]] += t.hourErrors[i];
    t.totalRequests += t.hourRequests[i];
    t.totalErrors += t.hourErrors[i];
  }
  return t;
}

/** The array kept under `key`, made with `size` zeros when new. */
export function arrayOf<K>(arrays: Map<K, Float64Array>, key: K, size: number): Float64Array {
  let a = arrays.get(key);
  if (!a) arrays.set(key, (a = new Float64Array(size)));
  return a;
}

/** The buckets (le → count) at one index of per-le arrays; empty when nothing was counted there. */
export function bucketsAt(byLe: Map<number, Float64Array>, index: number): Buckets {
  const b: Buckets = new Map();
  for (const [le, a] of byLe) if (a[index] !== 0) b.set(le, a[index]);
  return b;
}

/** Per-le arrays summed into one set of buckets (optionally only the indexes `keep` accepts). */
export function bucketsSum(byLe: Map<number, Float64Array>, keep?: (index: number) => boolean): Buckets {
  const b: Buckets = new Map();
  for (const [le, a] of byLe) {
    let v = 0;
    for (let i = 0; i < a.length; i++) if (!keep || keep(i)) v += a[i];
    b.set(le, v);
  }
  return b;
}

export const leOf = (le: string | undefined) => (le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le));
