/** Names made from dates and counters: backup files, log archives (in the inventory's time zone). */

/** Parts of a date in the inventory's time zone. */
export function zonedParts(date: Date, timeZone: string): Record<'YYYY' | 'MM' | 'DD' | 'HH' | 'mm' | 'ss', string> {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  return { YYYY: parts.year, MM: parts.month, DD: parts.day, HH: parts.hour, mm: parts.minute, ss: parts.second };
}

/** name.sql.gz → name_2.sql.gz (before the first dot-extension run). */
export function withSuffix(name: string, n: number): string {
  const match = /^(.*?)((?:\.[A-Za-z0-9]+)*)$/.exec(name)!;
  return `${match[1]}_${n}${match[2]}`;
}
