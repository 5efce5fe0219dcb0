/**
 * The usage_patterns section: requests per day, the weekday × hour grid (local time), the
 * peak hour, and the busiest endpoints and methods.
 */
import { WEEKDAY_NAMES } from '../report-period';
import { round } from '../report-math';
import { Q, RequestTotals, SectionContext, TOP } from './section-context';

/** Requests per local weekday and hour, and the period's busiest hour. */
function weekdayHourGrid(ctx: SectionContext, totals: RequestTotals) {
  const grid = WEEKDAY_NAMES.map(() => new Array<number>(24).fill(0));
  let peak: { start: string; local: string; requests: number } | null = null;
  for (let i = 0; i < ctx.H; i++) {
    if (!totals.hourSeen[i] || ctx.hourDay[i] < 0) continue;
    const l = ctx.hourLocal[i];
    grid[l.weekday - 1][l.hour] += totals.hourRequests[i];
    if (!peak || totals.hourRequests[i] > peak.requests)
      peak = { start: ctx.hourStart(i), local: ctx.localLabel(i), requests: Math.round(totals.hourRequests[i]) };
  }
  let peakCell: { weekday: string; hour: number; requests: number } | null = null;
  grid.forEach((hours, w) =>
    hours.forEach((v, hour) => {
      if (v > 0 && (!peakCell || v > peakCell.requests)) peakCell = { weekday: WEEKDAY_NAMES[w], hour, requests: Math.round(v) };
    }),
  );
  return { grid, peak, peakCell };
}

/** The usage_patterns section from the request totals. */
export function usagePatternsSection(ctx: SectionContext, totals: RequestTotals) {
  const { grid, peak, peakCell } = weekdayHourGrid(ctx, totals);
  const { totalRequests } = totals;
  const share = (v: number) => round(totalRequests > 0 ? (v / totalRequests) * 100 : null, 2);
  return {
    computedFrom: [{ promql: Q.requests, stepSeconds: 3600 }, ctx.samplesFrom],
    timeZone: ctx.period.timeZone,
    totalRequests: Math.round(totalRequests),
    days: ctx.period.days.map((d, di) => ({
      date: d.date,
      coverage: ctx.coverageOf.get(d.date) ?? null,
      requests: ctx.hasData(d.date) ? Math.round(totals.dayRequests[di]) : null,
      gaps: ctx.gapsIn(d.start, d.end),
    })),
    weekdayHour: grid.map((hours, w) => ({ weekday: WEEKDAY_NAMES[w], hours: hours.map((v) => Math.round(v)) })),
    peakHour: peak,
    peakWeekdayHour: peakCell,
    topEndpoints: [...totals.endpoints.values()]
      .sort((a, b) => b.requests - a.requests)
      .slice(0, TOP)
      .map((e) => ({ method: e.method, endpoint: e.endpoint, requests: Math.round(e.requests), sharePercent: share(e.requests) })),
    methods: [...totals.methods.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([method, v]) => ({ method, requests: Math.round(v), sharePercent: share(v) })),
    dataCoverage: ctx.commonCoverage,
  };
}
