/**
 * The Prometheus-backed sections of the performance report (response_times, error_rates,
 * usage_patterns, the backend part of availability), from a few range queries run concurrently:
 * increase() per hour and endpoint for requests and latency buckets (each sample read once; the
 * bucket query split by time so that Prometheus evaluates it on several cores), increase() per
 * local day for error types and up, sample counts per coverage step. Values are computed only
 * from the data present; each day says which fraction of the expected samples was there, and
 * gaps are listed, never averaged in as zeros. Sums run over arrays indexed by hour and day.
 * Here: the grid and the queries; each section is a pure builder of its own (sections/).
 */
import { PerformanceSection, ReportPeriod } from './report-period';
import { PromQueryRunner, QueryRecord, Series } from './prom-query-runner';
import { availabilitySection } from './sections/availability.section';
import { errorRatesSection } from './sections/error-rates.section';
import { responseTimesSection } from './sections/response-times.section';
import {
  DayRun,
  DayWindow,
  HOUR,
  measureCoverage,
  promDuration,
  Q,
  ReportCoverage,
  ReportGrid,
  requestTotals,
  sectionContext,
} from './sections/section-context';
import { usagePatternsSection } from './sections/usage-patterns.section';

export { promDuration } from './sections/section-context';
export type { ComputedFrom, DataCoverage, DayCoverage, DayWindow } from './sections/section-context';

/** Time chunks of the latency bucket query (the heaviest by far): enough to keep every Prometheus core busy. */
const LATENCY_CHUNKS = 4;
/** Chunks of the hourly requests query and of the sample counts. */
const REQUESTS_CHUNKS = 2;

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
  coverage: ReportCoverage;
  sections: Partial<Record<PerformanceSection, unknown>>;
  queries: QueryRecord[];
}

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
export function dayRuns(windows: DayWindow[]): DayRun[] {
  const runs: DayRun[] = [];
  for (const w of windows) {
    const last = runs[runs.length - 1];
    if (last && last.seconds === w.seconds && w.at - last.end === w.seconds * 1000) last.end = w.at;
    else runs.push({ start: w.at, end: w.at, seconds: w.seconds });
  }
  return runs;
}

/** The period's grid: hours, coverage steps, and the local days (up to the last whole hour). */
function reportGrid(period: ReportPeriod): ReportGrid {
  const covStep = coverageStepSeconds(period.end - period.start);
  const hourTimes = gridTimes(period.start, period.until, HOUR);
  const coverageTimes = gridTimes(period.start, period.until, covStep * 1000);
  const evaluatedUntil = coverageTimes.length ? coverageTimes[coverageTimes.length - 1] : period.start;
  const lastHour = hourTimes.length ? hourTimes[hourTimes.length - 1] : period.start;
  // Error types and up are needed per local day only: Prometheus sums each day itself (the day
  // so far for the day under way, up to the last whole hour, as the hourly figures).
  const windows = dayWindows(period, lastHour);
  return { period, coverageStepSeconds: covStep, hourTimes, coverageTimes, evaluatedUntil, dayWindows: windows, dayRuns: dayRuns(windows) };
}

interface FetchedSeries {
  samples: Series[];
  requests: Series[] | null;
  latency: Series[] | null;
  errorTypes: Series[] | null;
  up: { sum: Series[]; count: Series[] } | null;
}

/**
 * Every query the included sections need, asked for at once: the runner runs each once,
 * bounded, in this order: the latency buckets' chunks first (the heaviest), so that they do
 * not end last.
 */
async function fetchSeries(input: BuilderInput, grid: ReportGrid): Promise<FetchedSeries> {
  const { period, runner } = input;
  const { hourTimes, coverageTimes, coverageStepSeconds: covStep } = grid;
  const lastHour = hourTimes.length ? hourTimes[hourTimes.length - 1] : period.start;
  const want = (s: PerformanceSection) => input.include.includes(s);
  const hourly = (promql: string, chunks: number) =>
    runner.range({ promql, start: hourTimes[0] ?? period.start + HOUR, end: lastHour, stepSeconds: 3600, chunks });
  const daily = async (family: (range: string) => string, offsetMs?: number) =>
    (
      await Promise.all(
        grid.dayRuns.map((r) =>
          runner.range({ promql: family(promDuration(r.seconds)), start: r.start, end: r.end, stepSeconds: r.seconds, offsetMs }),
        ),
      )
    ).flat();
  const latencyP = want('response_times') ? hourly(Q.latency, LATENCY_CHUNKS) : null;
  const needsRequests = want('response_times') || want('error_rates') || want('usage_patterns');
  const requestsP = needsRequests ? hourly(Q.requests, REQUESTS_CHUNKS) : null;
  const samplesP = runner.range({
    promql: Q.samples(covStep),
    start: coverageTimes[0] ?? period.start + covStep * 1000,
    end: grid.evaluatedUntil,
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
  return { samples, requests, latency, errorTypes, up: up ? { sum: up[0], count: up[1] } : null };
}

export async function buildPrometheusSections(input: BuilderInput): Promise<PrometheusSections> {
  const { period, include, thresholds } = input;
  const grid = reportGrid(period);
  const fetched = await fetchSeries(input, grid);
  const { coverage, expected } = measureCoverage(grid, fetched.samples);
  const ctx = sectionContext(grid, coverage);
  const totals = requestTotals(ctx, fetched.requests ?? []);
  const sections: PrometheusSections['sections'] = {};
  if (include.includes('response_times'))
    sections.response_times = responseTimesSection(ctx, fetched.latency ?? [], thresholds.apiP95Seconds);
  if (include.includes('error_rates'))
    sections.error_rates = errorRatesSection(ctx, totals, fetched.errorTypes ?? [], thresholds.errorRatePercent);
  if (include.includes('usage_patterns')) sections.usage_patterns = usagePatternsSection(ctx, totals);
  if (fetched.up) sections.availability = availabilitySection(ctx, fetched.up, input.upSelector);
  return {
    source: {
      stepSeconds: 3600,
      coverageStepSeconds: grid.coverageStepSeconds,
      expectedSamplesPerCoverageStep: expected,
      evaluatedUntil: new Date(grid.evaluatedUntil).toISOString(),
    },
    coverage,
    sections,
    queries: input.runner.records,
  };
}
