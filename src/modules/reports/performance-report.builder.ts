/**
 * The Prometheus-backed sections of the performance report (response_times, error_rates,
 * usage_patterns, the backend part of availability), from a few range queries at a coarse
 * step (increase() per hour, sample counts per coverage step) run concurrently. Values are
 * computed only from the data present; each day says which fraction of the expected samples
 * was there, and gaps are listed, never averaged in as zeros.
 */
import { localTime, PerformanceSection, ReportPeriod, WEEKDAY_NAMES } from './report-period';
import { addBuckets, Buckets, coverageBetween, CoverageInput, findGaps, Gap, histogramQuantile, ratio, round, typicalCount } from './report-math';
import { PromQueryRunner, QueryRecord, Series } from './prom-query-runner';

const HOUR = 3_600_000;
const TOP = 10;

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
  requests: 'sum by (method, endpoint, status) (increase(http_requests_total[1h]))',
  latency: 'sum by (method, endpoint, le) (increase(http_request_duration_seconds_bucket[1h]))',
  errorTypes: 'sum by (error_type) (increase(api_errors_total[1h]))',
  samples: (step: number) => `max(count_over_time(http_requests_total[${step}s]))`,
  upSum: (sel: string) => `sum(sum_over_time(up{${sel}}[1h]))`,
  upCount: (sel: string) => `sum(count_over_time(up{${sel}}[1h]))`,
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

function endpointKey(m: Record<string, string>): string {
  return `${m.method ?? ''} ${m.endpoint ?? ''}`;
}

export async function buildPrometheusSections(input: BuilderInput): Promise<PrometheusSections> {
  const { period, include, runner } = input;
  const covStep = coverageStepSeconds(period.end - period.start);
  const hourTimes = gridTimes(period.start, period.until, HOUR);
  const covTimes = gridTimes(period.start, period.until, covStep * 1000);
  const evaluatedUntil = covTimes.length ? covTimes[covTimes.length - 1] : period.start;
  const hourly = (promql: string) => runner.range({ promql, start: hourTimes[0] ?? period.start + HOUR, end: hourTimes[hourTimes.length - 1] ?? period.start, stepSeconds: 3600 });
  const want = (s: PerformanceSection) => include.includes(s);

  // Every query is asked for at once: the runner runs each once, bounded.
  // The heaviest first (the bucket series), so that it does not end last.
  const latencyP = want('response_times') ? hourly(Q.latency) : null;
  const samplesP = runner.range({ promql: Q.samples(covStep), start: covTimes[0] ?? period.start + covStep * 1000, end: evaluatedUntil, stepSeconds: covStep, offsetMs: 1 });
  const requestsP = want('response_times') || want('error_rates') || want('usage_patterns') ? hourly(Q.requests) : null;
  const errorTypesP = want('error_rates') ? hourly(Q.errorTypes) : null;
  const upP = want('availability') ? Promise.all([hourly(Q.upSum(input.upSelector)), hourly(Q.upCount(input.upSelector))]) : null;
  const [samples, requests, latency, errorTypes, up] = await Promise.all([samplesP, requestsP, latencyP, errorTypesP, upP]);

  // ---- coverage ----
  const counts = new Map<number, number>(samples[0] ? [...samples[0].values] : []);
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
  const coverage: PrometheusSections['coverage'] = { ratio: round(whole.ratio), expectedSamples: whole.expected, presentSamples: whole.present, gaps, days: dayCoverage };
  const samplesFrom: ComputedFrom = { promql: Q.samples(covStep), stepSeconds: covStep };

  // Hour windows (t - 1 h, t] belong to the local day and hour they start in.
  const hourInfo = new Map<number, { date: string; hour: number; weekday: number }>();
  for (const t of hourTimes) hourInfo.set(t, localTime(t - HOUR, period.timeZone));
  const dayOf = (t: number) => hourInfo.get(t)?.date;
  const sections: PrometheusSections['sections'] = {};
  const commonCoverage = { ratio: coverage.ratio, gaps };

  // ---- requests, per endpoint and hour ----
  interface EndpointTotals { method: string; endpoint: string; requests: number; errors: number; byDay: Map<string, { requests: number; errors: number }> }
  const endpoints = new Map<string, EndpointTotals>();
  const hourRequests = new Map<number, { requests: number; errors: number }>();
  const methods = new Map<string, number>();
  for (const series of requests ?? []) {
    const key = endpointKey(series.metric);
    let e = endpoints.get(key);
    if (!e) endpoints.set(key, (e = { method: series.metric.method ?? '', endpoint: series.metric.endpoint ?? '', requests: 0, errors: 0, byDay: new Map() }));
    const is5xx = /^5/.test(series.metric.status ?? '');
    for (const [t, v] of series.values) {
      const date = dayOf(t);
      if (!date) continue;
      e.requests += v;
      if (is5xx) e.errors += v;
      const day = e.byDay.get(date) ?? { requests: 0, errors: 0 };
      day.requests += v;
      if (is5xx) day.errors += v;
      e.byDay.set(date, day);
      const h = hourRequests.get(t) ?? { requests: 0, errors: 0 };
      h.requests += v;
      if (is5xx) h.errors += v;
      hourRequests.set(t, h);
      methods.set(e.method, (methods.get(e.method) ?? 0) + v);
    }
  }
  const dayTotals = (date: string) => {
    let requests = 0;
    let errors = 0;
    for (const [t, h] of hourRequests) if (dayOf(t) === date) [requests, errors] = [requests + h.requests, errors + h.errors];
    return { requests, errors };
  };
  const totalRequests = [...hourRequests.values()].reduce((s, h) => s + h.requests, 0);
  const totalErrors = [...hourRequests.values()].reduce((s, h) => s + h.errors, 0);
  const localLabel = (t: number) => {
    const l = hourInfo.get(t)!;
    return `${l.date} ${String(l.hour).padStart(2, '0')}:00`;
  };

  // ---- response_times ----
  if (want('response_times')) {
    const hourBuckets = new Map<number, Buckets>();
    const endpointDayBuckets = new Map<string, Map<string, Buckets>>();
    for (const series of latency ?? []) {
      const le = series.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(series.metric.le);
      if (Number.isNaN(le)) continue;
      const key = endpointKey(series.metric);
      let byDay = endpointDayBuckets.get(key);
      if (!byDay) endpointDayBuckets.set(key, (byDay = new Map()));
      for (const [t, v] of series.values) {
        const date = dayOf(t);
        if (!date) continue;
        let hb = hourBuckets.get(t);
        if (!hb) hourBuckets.set(t, (hb = new Map()));
        hb.set(le, (hb.get(le) ?? 0) + v);
        let db = byDay.get(date);
        if (!db) byDay.set(date, (db = new Map()));
        db.set(le, (db.get(le) ?? 0) + v);
      }
    }
    const quantiles = (b: Buckets) => ({ p50Seconds: round(histogramQuantile(0.5, b)), p95Seconds: round(histogramQuantile(0.95, b)), p99Seconds: round(histogramQuantile(0.99, b)) });
    const target = input.thresholds.apiP95Seconds;
    const overallBuckets: Buckets = new Map();
    const hoursAbove: { start: string; local: string; p95Seconds: number | null; requests: number }[] = [];
    const days = period.days.map((d) => {
      const b: Buckets = new Map();
      let worst: { start: string; local: string; p95Seconds: number } | null = null;
      for (const [t, hb] of hourBuckets) {
        if (dayOf(t) !== d.date) continue;
        addBuckets(b, hb);
        const p95 = histogramQuantile(0.95, hb);
        if (p95 !== null && (!worst || p95 > worst.p95Seconds)) worst = { start: new Date(t - HOUR).toISOString(), local: localLabel(t), p95Seconds: round(p95)! };
        if (p95 !== null && p95 > target) hoursAbove.push({ start: new Date(t - HOUR).toISOString(), local: localLabel(t), p95Seconds: round(p95), requests: Math.round(hb.get(Number.POSITIVE_INFINITY) ?? 0) });
      }
      addBuckets(overallBuckets, b);
      const q = hasData(d.date) ? quantiles(b) : { p50Seconds: null, p95Seconds: null, p99Seconds: null };
      return {
        date: d.date,
        coverage: coverageOf.get(d.date) ?? null,
        requests: hasData(d.date) ? Math.round(b.get(Number.POSITIVE_INFINITY) ?? 0) : null,
        ...q,
        meetsTarget: q.p95Seconds === null ? null : q.p95Seconds < target,
        worstHour: hasData(d.date) ? worst : null,
        gaps: gapsIn(d.start, d.end),
      };
    });
    const slowest = [...endpointDayBuckets.entries()]
      .map(([key, byDay]) => {
        const all: Buckets = new Map();
        let worstDay: { date: string; p95Seconds: number } | null = null;
        for (const [date, b] of byDay) {
          addBuckets(all, b);
          const p95 = histogramQuantile(0.95, b);
          if (p95 !== null && (!worstDay || p95 > worstDay.p95Seconds)) worstDay = { date, p95Seconds: round(p95)! };
        }
        const [method, ...rest] = key.split(' ');
        return { method, endpoint: rest.join(' '), requests: Math.round(all.get(Number.POSITIVE_INFINITY) ?? 0), p50Seconds: round(histogramQuantile(0.5, all)), p95Seconds: round(histogramQuantile(0.95, all)), worstDay };
      })
      .filter((e) => e.p95Seconds !== null)
      .sort((a, b) => b.p95Seconds! - a.p95Seconds! || b.requests - a.requests)
      .slice(0, TOP);
    const overall = quantiles(overallBuckets);
    sections.response_times = {
      computedFrom: [{ promql: Q.latency, stepSeconds: 3600 }, samplesFrom],
      method: 'Quantiles interpolated in the default histogram buckets (as histogram_quantile) from bucket increases per hour, summed per day and over the period.',
      target: { p95Seconds: target, met: overall.p95Seconds === null ? null : overall.p95Seconds < target, hoursAboveTarget: hoursAbove.length },
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
    const byType = new Map<string, { total: number; byDay: Map<string, number> }>();
    for (const series of errorTypes ?? []) {
      const type = series.metric.error_type ?? '';
      const entry = byType.get(type) ?? { total: 0, byDay: new Map<string, number>() };
      for (const [t, v] of series.values) {
        const date = dayOf(t);
        if (!date) continue;
        entry.total += v;
        entry.byDay.set(date, (entry.byDay.get(date) ?? 0) + v);
      }
      byType.set(type, entry);
    }
    const days = period.days.map((d) => {
      if (!hasData(d.date)) return { date: d.date, coverage: coverageOf.get(d.date) ?? null, requests: null, errors5xx: null, ratePercent: null, meetsTarget: null, worstHour: null, gaps: gapsIn(d.start, d.end) };
      const { requests: r, errors: e } = dayTotals(d.date);
      let worst: { start: string; local: string; ratePercent: number; requests: number; errors5xx: number } | null = null;
      for (const [t, h] of hourRequests) {
        if (dayOf(t) !== d.date || !(h.requests > 0)) continue;
        const p = (h.errors / h.requests) * 100;
        if (!worst || p > worst.ratePercent) worst = { start: new Date(t - HOUR).toISOString(), local: localLabel(t), ratePercent: round(p)!, requests: Math.round(h.requests), errors5xx: Math.round(h.errors) };
      }
      const rate = pct(e, r);
      return { date: d.date, coverage: coverageOf.get(d.date) ?? null, requests: Math.round(r), errors5xx: Math.round(e), ratePercent: rate, meetsTarget: rate === null ? null : rate < target, worstHour: worst, gaps: gapsIn(d.start, d.end) };
    });
    const overallRate = pct(totalErrors, totalRequests);
    const endpointsByRate = [...endpoints.values()]
      .filter((e) => e.requests > 0)
      .map((e) => {
        let worstDay: { date: string; ratePercent: number; errors5xx: number } | null = null;
        for (const [date, d] of e.byDay) {
          const p = d.requests > 0 ? (d.errors / d.requests) * 100 : 0;
          if (d.errors > 0 && (!worstDay || p > worstDay.ratePercent)) worstDay = { date, ratePercent: round(p)!, errors5xx: Math.round(d.errors) };
        }
        return { method: e.method, endpoint: e.endpoint, requests: Math.round(e.requests), errors5xx: Math.round(e.errors), ratePercent: pct(e.errors, e.requests), worstDay };
      })
      .sort((a, b) => (b.ratePercent ?? 0) - (a.ratePercent ?? 0) || b.errors5xx - a.errors5xx)
      .slice(0, TOP);
    sections.error_rates = {
      computedFrom: [{ promql: Q.requests, stepSeconds: 3600 }, { promql: Q.errorTypes, stepSeconds: 3600 }, samplesFrom],
      method: '5xx share of http_requests_total (status label starting with 5), from increases per hour summed per day and over the period.',
      target: { maxPercent: target, met: overallRate === null ? null : overallRate < target, daysAboveTarget: days.filter((d) => d.meetsTarget === false).map((d) => d.date) },
      overall: { requests: Math.round(totalRequests), errors5xx: Math.round(totalErrors), ratePercent: overallRate },
      days,
      endpoints: endpointsByRate,
      errorTypes: [...byType.entries()]
        .map(([errorType, e]) => ({ errorType, count: Math.round(e.total), days: period.days.map((d) => ({ date: d.date, count: hasData(d.date) ? Math.round(e.byDay.get(d.date) ?? 0) : null })) }))
        .sort((a, b) => b.count - a.count),
      dataCoverage: commonCoverage,
    };
  }

  // ---- usage_patterns ----
  if (want('usage_patterns')) {
    const grid = WEEKDAY_NAMES.map(() => new Array<number>(24).fill(0));
    let peak: { start: string; local: string; requests: number } | null = null;
    for (const [t, h] of hourRequests) {
      const l = hourInfo.get(t)!;
      grid[l.weekday - 1][l.hour] += h.requests;
      if (!peak || h.requests > peak.requests) peak = { start: new Date(t - HOUR).toISOString(), local: localLabel(t), requests: Math.round(h.requests) };
    }
    let peakCell: { weekday: string; hour: number; requests: number } | null = null;
    grid.forEach((hours, w) => hours.forEach((v, hour) => {
      if (v > 0 && (!peakCell || v > peakCell.requests)) peakCell = { weekday: WEEKDAY_NAMES[w], hour, requests: Math.round(v) };
    }));
    const share = (v: number) => round(totalRequests > 0 ? (v / totalRequests) * 100 : null, 2);
    sections.usage_patterns = {
      computedFrom: [{ promql: Q.requests, stepSeconds: 3600 }, samplesFrom],
      timeZone: period.timeZone,
      totalRequests: Math.round(totalRequests),
      days: period.days.map((d) => ({ date: d.date, coverage: coverageOf.get(d.date) ?? null, requests: hasData(d.date) ? Math.round(dayTotals(d.date).requests) : null, gaps: gapsIn(d.start, d.end) })),
      weekdayHour: grid.map((hours, w) => ({ weekday: WEEKDAY_NAMES[w], hours: hours.map((v) => Math.round(v)) })),
      peakHour: peak,
      peakWeekdayHour: peakCell,
      topEndpoints: [...endpoints.values()]
        .sort((a, b) => b.requests - a.requests)
        .slice(0, TOP)
        .map((e) => ({ method: e.method, endpoint: e.endpoint, requests: Math.round(e.requests), sharePercent: share(e.requests) })),
      methods: [...methods.entries()].sort((a, b) => b[1] - a[1]).map(([method, v]) => ({ method, requests: Math.round(v), sharePercent: share(v) })),
      dataCoverage: commonCoverage,
    };
  }

  // ---- availability (backend part) ----
  if (up) {
    const [sum, count] = up as [Series[], Series[]];
    const per = (series: Series[], date: string) => {
      let v = 0;
      for (const s of series) for (const [t, x] of s.values) if (dayOf(t) === date) v += x;
      return v;
    };
    let upAll = 0;
    let samplesAll = 0;
    const days = period.days.map((d) => {
      const s = per(sum, d.date);
      const c = per(count, d.date);
      upAll += s;
      samplesAll += c;
      return { date: d.date, upRatio: round(ratio(s, c)), scrapes: Math.round(c), gaps: gapsIn(d.start, d.end) };
    });
    sections.availability = {
      backend: {
        computedFrom: [{ promql: Q.upSum(input.upSelector), stepSeconds: 3600 }, { promql: Q.upCount(input.upSelector), stepSeconds: 3600 }],
        method: 'Share of the backend\'s scrapes that succeeded (up = 1); scrapes missing (Prometheus down, or no up series, e.g. loaded history) are not counted either way.',
        upRatio: round(ratio(upAll, samplesAll)),
        scrapes: Math.round(samplesAll),
        days,
      },
    };
  }

  return {
    source: { stepSeconds: 3600, coverageStepSeconds: covStep, expectedSamplesPerCoverageStep: expected, evaluatedUntil: new Date(evaluatedUntil).toISOString() },
    coverage,
    sections,
    queries: runner.records,
  };
}
