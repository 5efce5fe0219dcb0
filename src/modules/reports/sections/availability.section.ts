/**
 * The backend part of the availability section: the share of the backend's scrapes that
 * succeeded, per local day and over the period.
 */
import { ratio, round } from '../report-math';
import { Series } from '../prom-query-runner';
import { Q, SectionContext } from './section-context';

/** The series' values summed per day (daily evaluations only). */
function perDay(ctx: SectionContext, series: Series[]): Float64Array {
  const byDay = new Float64Array(ctx.D);
  for (const s of series)
    s.times.forEach((t, k) => {
      const d = ctx.dayAt.get(t);
      if (d !== undefined) byDay[d] += s.values[k];
    });
  return byDay;
}

/** The availability section (backend) from the daily sums and counts of `up`. */
export function availabilitySection(ctx: SectionContext, up: { sum: Series[]; count: Series[] }, upSelector: string) {
  const upDays = perDay(ctx, up.sum);
  const scrapeDays = perDay(ctx, up.count);
  let upAll = 0;
  let samplesAll = 0;
  const days = ctx.period.days.map((d, di) => {
    upAll += upDays[di];
    samplesAll += scrapeDays[di];
    return {
      date: d.date,
      upRatio: round(ratio(upDays[di], scrapeDays[di])),
      scrapes: Math.round(scrapeDays[di]),
      gaps: ctx.gapsIn(d.start, d.end),
    };
  });
  return {
    backend: {
      computedFrom: [...ctx.dailyFrom((r) => Q.upSum(upSelector, r)), ...ctx.dailyFrom((r) => Q.upCount(upSelector, r))],
      method:
        "Share of the backend's scrapes that succeeded (up = 1), counted per local day; scrapes missing (Prometheus down, or no up series, e.g. loaded history) are not counted either way.",
      upRatio: round(ratio(upAll, samplesAll)),
      scrapes: Math.round(samplesAll),
      days,
    },
  };
}
