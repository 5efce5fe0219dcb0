/**
 * Which erp-* indices are old: by the UTC day in their names (erp-backend-YYYY.MM.dd), as
 * Logstash names daily indices from @timestamp in UTC (%{+YYYY.MM.dd}). Pure functions.
 */
import { z } from 'zod';
import { EsIndex } from '../../../../integrations/contracts';
import { wholeNumber } from '../../../../procedures/parameters';
import { RemediationDeps } from '../../remediation-deps';

const DAY = 86_400_000;

export const logsIngestParameters = z
  .object({
    /** Indices whose name's date is more than this many days before today (UTC) are deleted; default the inventory's logs.retentionDays. */
    retentionDays: wholeNumber('days', 1, 3650, 30).optional(),
    /** How long verify waits for today's indices to grow. */
    verifySeconds: wholeNumber('seconds', 5, 600, 30).default(30),
  })
  .strict();
export type LogsIngestParameters = z.infer<typeof logsIngestParameters>;

/** The adapters the steps use (the inventory and the clock come with the step's context). */
export type LogsIngestDeps = Pick<RemediationDeps, 'elasticsearch' | 'docker' | 'http'>;

/** YYYY.MM.dd of a date's UTC day (how Logstash names daily indices). */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '.');
}

/** The UTC day in an index name ending in -YYYY.MM.dd, or null when there is none (or it is not a real date). */
export function indexDate(name: string): Date | null {
  const m = /-(\d{4})\.(\d{2})\.(\d{2})$/.exec(name);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return date;
}

export interface RetentionSplit {
  retentionDays: number;
  /** Indices of this UTC day or later are kept. */
  keepFrom: string;
  delete: { index: string; date: string; ageDays: number; docsCount: number; storeSizeBytes: number }[];
  keep: string[];
  skipped: { index: string; reason: string }[];
}

/** Splits indices by the date in their names: older than `retentionDays` days before today (UTC) → delete. */
export function splitByRetention(indices: EsIndex[], now: Date, retentionDays: number): RetentionSplit {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const keepFrom = today - retentionDays * DAY;
  const split: RetentionSplit = { retentionDays, keepFrom: utcDay(new Date(keepFrom)), delete: [], keep: [], skipped: [] };
  for (const i of indices) {
    const date = indexDate(i.index);
    if (!date) split.skipped.push({ index: i.index, reason: 'no date YYYY.MM.dd at the end of its name: never deleted by this procedure' });
    else if (date.getTime() < keepFrom) {
      split.delete.push({
        index: i.index,
        date: utcDay(date),
        ageDays: Math.round((today - date.getTime()) / DAY),
        docsCount: i.docsCount,
        storeSizeBytes: i.storeSizeBytes,
      });
    } else split.keep.push(i.index);
  }
  return split;
}
