import { Inject, Injectable } from '@nestjs/common';
import { Identity } from '../../common/request-context';
import { ScheduledJobs } from '../../common/scheduled-jobs';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { RunnerService } from '../../procedures/runner.service';
import { AuditService } from '../../audit/audit.service';
import { MetricsService } from '../../infra/metrics/metrics.service';
import { BackupActions } from './backup-actions';
import { BackupService } from './backup.service';

/** The daily backup's queue. */
export const BACKUPS_QUEUE = 'backups';
/** The restore drill's queue: a drill that runs for hours must not hold back a backup tick. */
export const RESTORE_DRILLS_QUEUE = 'restore-drills';
export const DAILY_BACKUP_SCHEDULER = 'daily-backup';
export const WEEKLY_DRILL_SCHEDULER = 'weekly-restore-drill';

/** How long a scheduled run is waited for before the job gives up waiting (the run goes on). */
const SCHEDULED_RUN_WAIT_SECONDS = 6 * 3600;

/**
 * The backup schedules (cron entries of the inventory). Daily: create, then retention right
 * after it. Weekly: a restore drill of the newest backup. Each is an ordinary procedure run
 * (requested and audited as "scheduler"), locks included. Each schedule has its own queue:
 * while a drill runs, the backup's tick is still taken on time (see ScheduledQueue).
 */
@Injectable()
export class BackupScheduler extends ScheduledJobs {
  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    runner: RunnerService,
    actions: BackupActions,
    audit: AuditService,
    backups: BackupService,
    metrics: MetricsService,
  ) {
    const request = scheduledRun(runner, actions, audit);
    super({
      config,
      timeZone: inventory.timezone,
      what: 'backups',
      metric: 'backup',
      registry: metrics.registry,
      lockDuration: 60_000,
      jobs: [
        {
          id: DAILY_BACKUP_SCHEDULER,
          queue: BACKUPS_QUEUE,
          pattern: inventory.schedules.backup,
          name: 'daily-backup',
          run: async ({ identity }) =>
            `${await request(identity, 'backup.create', {})}; ${await request(identity, 'backup.retention', { mode: 'window' })}`,
        },
        {
          id: WEEKLY_DRILL_SCHEDULER,
          queue: RESTORE_DRILLS_QUEUE,
          pattern: inventory.schedules.restoreDrill,
          name: 'restore-drill',
          run: async ({ identity }) => {
            const newest = await backups.newest();
            return newest ? request(identity, 'backup.verify', { backupId: newest.id }) : 'no backup to drill';
          },
        },
      ],
    });
  }
}

/** One scheduled run, audited like a request; waits for it to end. */
function scheduledRun(runner: RunnerService, actions: BackupActions, audit: AuditService) {
  return async (identity: Identity, procedureId: string, parameters: Record<string, unknown>): Promise<string> => {
    try {
      const run = await runner.request(procedureId, { parameters }, identity);
      await audit.recordSafely({ actor: identity, action: procedureId, target: `run:${run.id}`, parameters, outcome: 'success' });
      const ended = await actions.waitFor(run.id, SCHEDULED_RUN_WAIT_SECONDS);
      return `${procedureId} ${ended.status}${ended.error ? `: ${ended.error}` : ''}`;
    } catch (error) {
      await audit.recordSafely({
        actor: identity,
        action: procedureId,
        parameters,
        outcome: 'failure',
        errorCode: (error as { code?: string }).code ?? 'ERROR',
      });
      throw error;
    }
  };
}
