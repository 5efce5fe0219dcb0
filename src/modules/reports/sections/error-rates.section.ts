/**
 * The error_rates section: the 5xx share of requests per hour, day, endpoint and over the
 * period, and the application's error types per day.
 */
import { ratio, round } from '../report-math';
import { Series } from '../prom-query-runner';
import { EndpointTotals, Q, RequestTotals, SectionContext, TOP } from './section-context';

const pct = (e: number, r: number) => round(ratio(e, r) === null ? null : (e / r) * 100, 4);

/** Error counts per type, over the period and per day, from the daily error type series. */
function errorTypesByDay(ctx: SectionContext, errorTypes: Series[]) {
  const byType = new Map<string, { total: number; byDay: Float64Array }>();
  for (const series of errorTypes) {
    const type = series.metric.error_type ?? '';
    const entry = byType.get(type) ?? { total: 0, byDay: new Float64Array(ctx.D) };
    series.times.forEach((t, k) => {
      const d = ctx.dayAt.get(t);
      if (d === undefined) return;
      entry.total += series.values[k];
      entry.byDay[d] += series.values[k];
    });
    byType.set(type, entry);
  }
  return [...byType.entries()]
    .map(([errorType, e]) => ({
      errorType,
      count: Math.round(e.total),
      days: ctx.period.days.map((d, di) => ({ date: d.date, count: ctx.hasData(d.date) ? Math.round(e.byDay[di]) : null })),
    }))
    .sort((a, b) => b.count - a.count);
}

type WorstHour = { start: string; local: string; ratePercent: number; requests: number; errors5xx: number };

/** Each day's hour with the highest 5xx share. */
function worstErrorHours(ctx: SectionContext, totals: RequestTotals): (WorstHour | null)[] {
  const { hourRequests, hourErrors } = totals;
  const worstHours = new Array<WorstHour | null>(ctx.D).fill(null);
  for (let i = 0; i < ctx.H; i++) {
    const d = ctx.hourDay[i];
    if (d < 0 || !(hourRequests[i] > 0)) continue;
    const p = (hourErrors[i] / hourRequests[i]) * 100;
    const worst = worstHours[d];
    if (!worst || p > worst.ratePercent)
      worstHours[d] = {
        start: ctx.hourStart(i),
        local: ctx.localLabel(i),
        ratePercent: round(p)!,
        requests: Math.round(hourRequests[i]),
        errors5xx: Math.round(hourErrors[i]),
      };
  }
  return worstHours;
}

function dayFigures(ctx: SectionContext, totals: RequestTotals, target: number) {
  const worstHours = worstErrorHours(ctx, totals);
  return ctx.period.days.map((d, di) => {
    const base = { date: d.date, coverage: ctx.coverageOf.get(d.date) ?? null };
    if (!ctx.hasData(d.date))
      return {
        ...base,
        requests: null,
        errors5xx: null,
        ratePercent: null,
        meetsTarget: null,
        worstHour: null,
        gaps: ctx.gapsIn(d.start, d.end),
      };
    const rate = pct(totals.dayErrors[di], totals.dayRequests[di]);
    return {
      ...base,
      requests: Math.round(totals.dayRequests[di]),
      errors5xx: Math.round(totals.dayErrors[di]),
      ratePercent: rate,
      meetsTarget: rate === null ? null : rate < target,
      worstHour: worstHours[di],
      gaps: ctx.gapsIn(d.start, d.end),
    };
  });
}

/** The endpoints with the highest 5xx share over the period, each with its worst day. */
function endpointsByRate(ctx: SectionContext, endpoints: Iterable<EndpointTotals>) {
  return [...endpoints]
    .filter((e) => e.requests > 0)
    .map((e) => {
      let worstDay: { date: string; ratePercent: number; errors5xx: number } | null = null;
      for (let d = 0; d < ctx.D; d++) {
        const p = e.dayRequests[d] > 0 ? (e.dayErrors[d] / e.dayRequests[d]) * 100 : 0;
        if (e.dayErrors[d] > 0 && (!worstDay || p > worstDay.ratePercent))
          worstDay = { date: ctx.period.days[d].date, ratePercent: round(p)!, errors5xx: Math.round(e.dayErrors[d]) };
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
}

/** The error_rates section from the request totals and the daily error type series. */
export function errorRatesSection(ctx: SectionContext, totals: RequestTotals, errorTypes: Series[], target: number) {
  const days = dayFigures(ctx, totals, target);
  const overallRate = pct(totals.totalErrors, totals.totalRequests);
  return {
    computedFrom: [{ promql: Q.requests, stepSeconds: 3600 }, ...ctx.dailyFrom(Q.errorTypesDaily), ctx.samplesFrom],
    method:
      '5xx share of http_requests_total (status label starting with 5), from increases per endpoint and hour, summed per hour, day, endpoint and over the period.',
    target: {
      maxPercent: target,
      met: overallRate === null ? null : overallRate < target,
      daysAboveTarget: days.filter((d) => d.meetsTarget === false).map((d) => d.date),
    },
    overall: { requests: Math.round(totals.totalRequests), errors5xx: Math.round(totals.totalErrors), ratePercent: overallRate },
    days,
    endpoints: endpointsByRate(ctx, totals.endpoints.values()),
    errorTypes: errorTypesByDay(ctx, errorTypes),
    dataCoverage: ctx.commonCoverage,
  };
}
