/**
 * The response_times section: latency quantiles per hour, day, endpoint and over the period,
 * interpolated in the histogram buckets as Prometheus's histogram_quantile does.
 */
import { Buckets, histogramQuantile, round } from '../report-math';
import { Series } from '../prom-query-runner';
import { arrayOf, bucketsAt, bucketsSum, endpointKey, leOf, Q, SectionContext, TOP } from './section-context';

const INF = Number.POSITIVE_INFINITY;

/** le → count per hour over every endpoint; endpoint → le → count per day. */
interface LatencyBuckets {
  hourBuckets: Map<number, Float64Array>;
  endpointDayBuckets: Map<string, Map<number, Float64Array>>;
}

function latencyBuckets(ctx: SectionContext, latency: Series[]): LatencyBuckets {
  const hourBuckets = new Map<number, Float64Array>();
  const endpointDayBuckets = new Map<string, Map<number, Float64Array>>();
  for (const series of latency) {
    const le = leOf(series.metric.le);
    if (Number.isNaN(le)) continue;
    const key = endpointKey(series.metric);
    let byLe = endpointDayBuckets.get(key);
    if (!byLe) endpointDayBuckets.set(key, (byLe = new Map()));
    const hourCounts = arrayOf(hourBuckets, le, ctx.H);
    const dayCounts = arrayOf(byLe, le, ctx.D);
    const { times, values } = series;
    for (let k = 0; k < times.length; k++) {
      const i = ctx.hourAt(times[k]);
      const d = i < 0 ? -1 : ctx.hourDay[i];
      if (d < 0) continue;
      hourCounts[i] += values[k];
      dayCounts[d] += values[k];
    }
  }
  return { hourBuckets, endpointDayBuckets };
}

const quantiles = (b: Buckets) => ({
  p50Seconds: round(histogramQuantile(0.5, b)),
  p95Seconds: round(histogramQuantile(0.95, b)),
  p99Seconds: round(histogramQuantile(0.99, b)),
});

type HourAbove = { start: string; local: string; p95Seconds: number | null; requests: number };
type WorstHour = { start: string; local: string; p95Seconds: number };

/** The hours whose p95 is above the target, and each day's worst hour. */
function hourlyP95(ctx: SectionContext, hourBuckets: Map<number, Float64Array>, target: number) {
  const hoursAbove: HourAbove[] = [];
  const worstHours = new Array<WorstHour | null>(ctx.D).fill(null);
  for (let i = 0; i < ctx.H; i++) {
    const d = ctx.hourDay[i];
    if (d < 0) continue;
    const hb = bucketsAt(hourBuckets, i);
    const p95 = histogramQuantile(0.95, hb);
    if (p95 === null) continue;
    const worst = worstHours[d];
    if (!worst || p95 > worst.p95Seconds) worstHours[d] = { start: ctx.hourStart(i), local: ctx.localLabel(i), p95Seconds: round(p95)! };
    if (p95 > target)
      hoursAbove.push({
        start: ctx.hourStart(i),
        local: ctx.localLabel(i),
        p95Seconds: round(p95),
        requests: Math.round(hb.get(INF) ?? 0),
      });
  }
  return { hoursAbove, worstHours };
}

function dayFigures(ctx: SectionContext, hourBuckets: Map<number, Float64Array>, worstHours: (WorstHour | null)[], target: number) {
  return ctx.period.days.map((d, di) => {
    const b = bucketsSum(hourBuckets, (i) => ctx.hourDay[i] === di);
    const q = ctx.hasData(d.date) ? quantiles(b) : { p50Seconds: null, p95Seconds: null, p99Seconds: null };
    return {
      date: d.date,
      coverage: ctx.coverageOf.get(d.date) ?? null,
      requests: ctx.hasData(d.date) ? Math.round(b.get(INF) ?? 0) : null,
      ...q,
      meetsTarget: q.p95Seconds === null ? null : q.p95Seconds < target,
      worstHour: ctx.hasData(d.date) ? worstHours[di] : null,
      gaps: ctx.gapsIn(d.start, d.end),
    };
  });
}

/** The endpoints with the highest p95 over the period, each with its worst day. */
function slowestEndpoints(ctx: SectionContext, endpointDayBuckets: Map<string, Map<number, Float64Array>>) {
  return [...endpointDayBuckets.entries()]
    .map(([key, byLe]) => {
      let worstDay: { date: string; p95Seconds: number } | null = null;
      for (let d = 0; d < ctx.D; d++) {
        const p95 = histogramQuantile(0.95, bucketsAt(byLe, d));
        if (p95 !== null && (!worstDay || p95 > worstDay.p95Seconds)) worstDay = { date: ctx.period.days[d].date, p95Seconds: round(p95)! };
      }
      const all = bucketsSum(byLe);
      const [method, ...rest] = key.split(' ');
      return {
        method,
        endpoint: rest.join(' '),
        requests: Math.round(all.get(INF) ?? 0),
        p50Seconds: round(histogramQuantile(0.5, all)),
        p95Seconds: round(histogramQuantile(0.95, all)),
        worstDay,
      };
    })
    .filter((e) => e.p95Seconds !== null)
    .sort((a, b) => b.p95Seconds! - a.p95Seconds! || b.requests - a.requests)
    .slice(0, TOP);
}

/** The response_times section from the latency bucket series. */
export function responseTimesSection(ctx: SectionContext, latency: Series[], target: number) {
  const { hourBuckets, endpointDayBuckets } = latencyBuckets(ctx, latency);
  const { hoursAbove, worstHours } = hourlyP95(ctx, hourBuckets, target);
  const overallBuckets = bucketsSum(hourBuckets, (i) => ctx.hourDay[i] >= 0);
  const overall = quantiles(overallBuckets);
  return {
    computedFrom: [{ promql: Q.latency, stepSeconds: 3600 }, ctx.samplesFrom],
    method:
      'Quantiles interpolated in the default histogram buckets (as histogram_quantile) from bucket increases per endpoint and hour: summed over the endpoints per hour, day and the period, and over the hours per endpoint.',
    target: {
      p95Seconds: target,
      met: overall.p95Seconds === null ? null : overall.p95Seconds < target,
      hoursAboveTarget: hoursAbove.length,
    },
    overall: { requests: Math.round(overallBuckets.get(INF) ?? 0), ...overall },
    days: dayFigures(ctx, hourBuckets, worstHours, target),
    hoursAboveTarget: hoursAbove.slice(0, 50),
    slowestEndpoints: slowestEndpoints(ctx, endpointDayBuckets),
    dataCoverage: ctx.commonCoverage,
  };
}
