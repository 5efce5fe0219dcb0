/** The weekly report's period and subject (pure). */
import { addDays, localTime } from './report-period';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The last 7 days, today included, in the time zone: Friday 17:00 reports Saturday to Friday. */
export function weeklyPeriod(now: number, timeZone: string): { startDate: string; endDate: string } {
  const endDate = localTime(now, timeZone).date;
  return { startDate: addDays(endDate, -6), endDate };
}

/** The runbook's subject: "ERP Weekly Performance Report - Week of Jan 13-19" (or "Jan 27-Feb 2"). */
export function weeklySubject(startDate: string, endDate: string): string {
  const [, sm, sd] = startDate.split('-').map(Number);
  const [, em, ed] = endDate.split('-').map(Number);
  const start = `${MONTHS[sm - 1]} ${sd}`;
  const end = sm === em ? String(ed) : `${MONTHS[em - 1]} ${ed}`;
  return `ERP Weekly Performance Report - Week of ${start}-${end}`;
}
