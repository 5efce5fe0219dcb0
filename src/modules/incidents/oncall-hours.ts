/**
 * A rotation's hours as pure functions of a time and the inventory's time zone: the minute of
 * the week a time falls on there (Monday 00:00 is 0), whether windows cover it, and turning a
 * local date and time back into an instant (for the moments when coverage may change).
 */
import { IncidentRotation, WEEK_DAYS } from '../../config/incidents.schema';

export const DAY_MINUTES = 24 * 60;
export const WEEK_MINUTES = 7 * DAY_MINUTES;
const SHORT_DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** A time as a clock on the wall of `timeZone` shows it. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  /** 0 = Monday … 6 = Sunday. */
  weekday: number;
  /** Minutes since local midnight. */
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function localTime(at: Date | number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: SHORT_DAYS.indexOf(parts.weekday),
    minute: (Number(parts.hour) % 24) * 60 + Number(parts.minute),
  };
}

/** The minute of the week `at` falls on in `timeZone` (Monday 00:00 = 0). */
export function weekMinute(at: Date | number, timeZone: string): number {
  const local = localTime(at, timeZone);
  return local.weekday * DAY_MINUTES + local.minute;
}

/** The zone's offset from UTC at `t`, in ms (whole minutes). */
function offsetAt(t: number, timeZone: string): number {
  const l = localTime(t, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, 0, l.minute) - Math.floor(t / 60000) * 60000;
}

/** `t` as the wall clock of `timeZone` reads it, counted as if that reading were UTC (ms). */
export function wallClock(t: number, timeZone: string): number {
  return t + offsetAt(t, timeZone);
}

/**
 * The instants a wall-clock reading (as `wallClock` counts it) may be: two guesses around a
 * change of offset, both returned so a caller looking for the moments coverage may change misses
 * none; the last is the one to use.
 */
function wallInstants(wall: number, timeZone: string): number[] {
  const first = wall - offsetAt(wall, timeZone);
  const second = wall - offsetAt(first, timeZone);
  return first === second ? [first] : [first, second];
}

/** The instant a wall-clock reading of `timeZone` is (after a change of offset, the later guess). */
export function instantOfWall(wall: number, timeZone: string): number {
  const guesses = wallInstants(wall, timeZone);
  return guesses[guesses.length - 1];
}

/** The instants a local date and minute of day may be (see `wallInstants`). */
export function localInstants(year: number, month: number, day: number, minute: number, timeZone: string): number[] {
  return wallInstants(Date.UTC(year, month - 1, day, 0, minute), timeZone);
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** The week minutes a rotation's hours cover, as [start, end) intervals (an end may pass the week's end). */
export function hoursIntervals(hours: NonNullable<IncidentRotation['hours']>): [number, number][] {
  const out: [number, number][] = [];
  for (const w of hours) {
    const from = minutesOf(w.from);
    const to = minutesOf(w.to);
    for (const day of w.days) {
      const start = WEEK_DAYS.indexOf(day) * DAY_MINUTES + from;
      out.push([start, start + (to > from ? to - from : DAY_MINUTES - from + to)]);
    }
  }
  return out;
}

/** The minutes of day where a rotation's hours begin or end (where coverage may change). */
export function hoursBoundaries(hours: NonNullable<IncidentRotation['hours']>): number[] {
  return [...new Set(hours.flatMap((w) => [minutesOf(w.from), minutesOf(w.to)]))];
}

/** Whether the hours (none = all hours) cover `at` in `timeZone`. */
export function inHours(hours: IncidentRotation['hours'], at: Date | number, timeZone: string): boolean {
  if (!hours) return true;
  const minute = weekMinute(at, timeZone);
  return hoursIntervals(hours).some(([s, e]) => (s <= minute && minute < e) || (s <= minute + WEEK_MINUTES && minute + WEEK_MINUTES < e));
}

/** Marks the week minutes a rotation's hours (none = all) cover in `covered`. */
export function markHours(covered: boolean[], hours: IncidentRotation['hours']): void {
  const intervals: [number, number][] = hours ? hoursIntervals(hours) : [[0, WEEK_MINUTES]];
  for (const [s, e] of intervals) for (let m = s; m < e; m++) covered[m % WEEK_MINUTES] = true;
}

/** "Sat 00:00" for a minute of the week. */
export function weekMinuteLabel(minute: number): string {
  const m = ((minute % WEEK_MINUTES) + WEEK_MINUTES) % WEEK_MINUTES;
  const hh = String(Math.floor((m % DAY_MINUTES) / 60)).padStart(2, '0');
  const mm = String(m % 60).padStart(2, '0');
  return `${SHORT_DAYS[Math.floor(m / DAY_MINUTES)]} ${hh}:${mm}`;
}

/** "2026-12-24 09:00" as the wall clock of `timeZone` shows `at`. */
export function localLabel(at: Date | number, timeZone: string): string {
  const l = localTime(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${l.year}-${pad(l.month)}-${pad(l.day)} ${pad(Math.floor(l.minute / 60))}:${pad(l.minute % 60)}`;
}
