/**
 * Report periods: calendar dates in the inventory's time zone, inclusive, turned into UTC
 * instants (pure functions; the clock is passed in). Days are local days, so a day is not
 * always 24 h long where the zone has daylight saving time.
 */
import { FieldProblem } from '../../common/errors';

export const PERFORMANCE_SECTIONS = ['response_times', 'error_rates', 'usage_patterns', 'availability', 'backups', 'incidents'] as const;
export type PerformanceSection = (typeof PERFORMANCE_SECTIONS)[number];
/** Sections read from the control plane's own tables alone: a report of only these never asks Prometheus. */
export const DATABASE_SECTIONS: readonly PerformanceSection[] = ['backups', 'incidents'];
export const DEFAULT_SECTIONS: PerformanceSection[] = ['response_times', 'error_rates', 'usage_patterns'];
export const MAX_PERIOD_DAYS = 92;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date written YYYY-MM-DD (no 2026-02-30, no time part). */
export function isCalendarDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = DATE.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** The calendar date `days` after a YYYY-MM-DD date. */
export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** Whole days from a to b (dates), b - a. */
export function daysBetween(a: string, b: string): number {
  const [ya, ma, da] = a.split('-').map(Number);
  const [yb, mb, db] = b.split('-').map(Number);
  return Math.round((Date.UTC(yb, mb - 1, db) - Date.UTC(ya, ma - 1, da)) / 86_400_000);
}

const partsCache = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = partsCache.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      weekday: 'short',
    });
    partsCache.set(timeZone, f);
  }
  return f;
}

export interface LocalTime {
  date: string;
  hour: number;
  minute: number;
  /** ISO weekday: 1 Monday … 7 Sunday. */
  weekday: number;
}

const WEEKDAY: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
export const WEEKDAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** The wall-clock date, hour and weekday of an instant in a time zone. */
export function localTime(ms: number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAY[parts.weekday],
  };
}

/** Offset of the zone from UTC at an instant, milliseconds (Jakarta: +7 h). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) parts[p.type] = p.value;
  const asUtc = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant a local calendar day starts (local midnight; the first instant of the day in a DST gap). */
export function startOfLocalDay(date: string, timeZone: string): number {
  const [y, m, d] = date.split('-').map(Number);
  const guess = Date.UTC(y, m - 1, d);
  let t = guess - zoneOffsetMs(guess, timeZone);
  t = guess - zoneOffsetMs(t, timeZone);
  return t;
}

export interface ReportDay {
  date: string;
  /** [start, end) in ms. */
  start: number;
  end: number;
}

export interface ReportPeriod {
  startDate: string;
  endDate: string;
  timeZone: string;
  start: number;
  end: number;
  /** Where data is read up to: the period's end, or now when the period reaches into the future. */
  until: number;
  days: ReportDay[];
}

export function buildPeriod(startDate: string, endDate: string, timeZone: string, now: number): ReportPeriod {
  const days: ReportDay[] = [];
  for (let date = startDate; date <= endDate; date = addDays(date, 1)) {
    days.push({ date, start: startOfLocalDay(date, timeZone), end: startOfLocalDay(addDays(date, 1), timeZone) });
  }
  const start = days[0].start;
  const end = days[days.length - 1].end;
  return { startDate, endDate, timeZone, start, end, until: Math.min(end, now), days };
}

export interface PerformanceRequest {
  start_date?: unknown;
  end_date?: unknown;
  include?: unknown;
}

export interface ValidPerformanceRequest {
  startDate: string;
  endDate: string;
  include: PerformanceSection[];
}

/**
 * Validates a report request (beyond the DTO's field types): real dates, start ≤ end, at most
 * MAX_PERIOD_DAYS days, not entirely in the future in the zone, known section names.
 */
export function validatePerformanceRequest(
  body: PerformanceRequest,
  timeZone: string,
  now: number,
): { value?: ValidPerformanceRequest; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const example = 'for example 2026-01-13';
  for (const field of ['start_date', 'end_date'] as const) {
    const v = body[field];
    if (v === undefined || v === null) problems.push({ field, problem: `is required: a calendar date YYYY-MM-DD, ${example}` });
    else if (!isCalendarDate(v))
      problems.push({ field, problem: `must be a real calendar date YYYY-MM-DD, ${example} (got ${JSON.stringify(v).slice(0, 40)})` });
  }
  let include: PerformanceSection[] = [...DEFAULT_SECTIONS];
  const allowed = PERFORMANCE_SECTIONS.join(', ');
  if (body.include !== undefined && body.include !== null) {
    if (!Array.isArray(body.include))
      problems.push({ field: 'include', problem: `must be a list of section names, each one of ${allowed}` });
    else if (body.include.length === 0)
      problems.push({
        field: 'include',
        problem: `must name at least one section: ${allowed} (leave it out for response_times, error_rates, usage_patterns)`,
      });
    else {
      const unknown = body.include.filter((s) => !(PERFORMANCE_SECTIONS as readonly unknown[]).includes(s));
      if (unknown.length)
        problems.push({
          field: 'include',
          problem: `${unknown.map((u) => JSON.stringify(u)).join(', ')} is not a known section: each must be one of ${allowed}`,
        });
      else include = PERFORMANCE_SECTIONS.filter((s) => (body.include as unknown[]).includes(s));
    }
  }
  if (problems.length) return { problems };
  const startDate = body.start_date as string;
  const endDate = body.end_date as string;
  const days = daysBetween(startDate, endDate) + 1;
  if (days < 1) problems.push({ field: 'end_date', problem: `must not be before start_date (${startDate})` });
  else if (days > MAX_PERIOD_DAYS)
    problems.push({
      field: 'end_date',
      problem: `the period may be at most ${MAX_PERIOD_DAYS} days long (got ${days} days); split it into shorter reports`,
    });
  else if (startOfLocalDay(startDate, timeZone) > now) {
    problems.push({
      field: 'start_date',
      problem: `is in the future: today is ${localTime(now, timeZone).date} in ${timeZone}; a report needs at least part of its period in the past`,
    });
  }
  if (problems.length) return { problems };
  return { value: { startDate, endDate, include }, problems };
}
