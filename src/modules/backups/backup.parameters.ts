import { z } from 'zod';
import { flag, wholeNumber } from '../../procedures/parameters';

/** The username of runs the control plane starts itself (scheduled backups): the scheduled jobs' identity. */
export { SCHEDULER_USERNAME } from '../../common/scheduled-jobs';

export const MAX_RETENTION_DAYS = 3650;
export const MAX_KEEP_LAST = 10_000;
export const RETENTION_DAYS_MESSAGE = `must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}, for example 7`;
export const KEEP_LAST_MESSAGE = `must be a whole number of backups from 1 to ${MAX_KEEP_LAST}, for example 3`;

/** A catalog id: never a path or file name. */
export const backupId = z
  .string({ error: 'must be a backup id from GET /api/v1/backups (a uuid)' })
  .refine((v) => !/[\\/]|\.\./.test(v), { error: 'must be a backup id from GET /api/v1/backups, never a path' })
  .pipe(z.uuid({ error: 'must be a backup id from GET /api/v1/backups (a uuid)' }));

export const createParameters = z.object({}).strict();
export const verifyParameters = z.object({ backupId }).strict();
export const deleteParameters = z.object({ backupId }).strict();

export const retentionParameters = z
  .object({
    mode: z
      .enum(['window', 'disk-pressure'], { error: 'must be window (the 7-day rolling window) or disk-pressure (keep only the last N)' })
      .default('window'),
    retentionDays: wholeNumber('days', 1, MAX_RETENTION_DAYS, 7).optional(),
    keepLast: wholeNumber('backups', 1, MAX_KEEP_LAST, 3).optional(),
  })
  .strict();

export const restoreParameters = z
  .object({
    backupId,
    /** Restore a backup that is not verified (or whose file changed): admins only. */
    force: flag().default(false),
  })
  .strict();

export type CreateParameters = z.infer<typeof createParameters>;
export type VerifyParameters = z.infer<typeof verifyParameters>;
export type DeleteParameters = z.infer<typeof deleteParameters>;
export type RetentionParameters = z.infer<typeof retentionParameters>;
export type RestoreParameters = z.infer<typeof restoreParameters>;
