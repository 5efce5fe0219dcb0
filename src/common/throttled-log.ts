/**
 * A warning that repeats while a dependency is away (every reconnect attempt of every queue and
 * worker fails alike) is logged once per `ms` with the number of repeats left out, instead of
 * several lines a second that bury everything else during the outage.
 */
export function throttledWarn(warn: (message: string) => void, ms = 30_000): (message: string) => void {
  const seen = new Map<string, { at: number; skipped: number }>();
  return (message) => {
    const now = Date.now();
    const last = seen.get(message);
    if (last && now - last.at < ms) {
      last.skipped++;
      return;
    }
    const skipped = last?.skipped ? ` (${last.skipped} more like it in the last ${Math.round((now - last.at) / 1000)} s)` : '';
    seen.set(message, { at: now, skipped: 0 });
    if (seen.size > 100) seen.delete(seen.keys().next().value as string);
    warn(`${message}${skipped}`);
  };
}
