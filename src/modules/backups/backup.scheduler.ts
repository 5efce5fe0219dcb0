import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job } from 'bullmq';
import { ScheduledQueue } from '../../common/scheduled-queue';
import { Identity } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { Role } from '../../guards/rights';
import { AuditService } from '../audit/audit.service';
import { RunnerService } from '../../procedures/runner.service';
import { BackupActions } from './backup-actions';
import { SCHEDULER_USERNAME } from './backup.parameters';
import { BackupService } from './backup.service';

export const BACKUPS_QUEUE = 'backups';
export const DAILY_BACKUP_SCHEDULER = 'daily-backup';
export const WEEKLY_DRILL_SCHEDULER = 'weekly-restore-drill';

/** Who scheduled runs are requested by (audited as such). */
export const SCHEDULER_IDENTITY: Identity = {
  kind: 'system',
  id: SCHEDULER_USERNAME,
  username: SCHEDULER_USERNAME,
  role: Role.Admin,
  userId: null,
};

/**
 * The backup schedules (cron entries of the inventory, in its time zone), through BullMQ job
 * schedulers: every replica registers the same ones and each tick is one job one worker
 * takes. Daily: create, then retention right after it. Weekly: a restore drill of the newest
 * backup. Each is an ordinary procedure run (requested by "scheduler"), locks included.
 */
@Injectable()
export class BackupScheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly scheduled: ScheduledQueue;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(INVENTORY) inventory: Inventory,
    private readonly runner: RunnerService,
    private readonly actions: BackupActions,
    private readonly backups: BackupService,
    private readonly audit: AuditService,
  ) {
    this.scheduled = new ScheduledQueue({
      config,
      queue: BACKUPS_QUEUE,
      timeZone: inventory.timezone,
      schedules: [
        { id: DAILY_BACKUP_SCHEDULER, pattern: inventory.schedules.backup, jobName: 'daily-backup' },
        { id: WEEKLY_DRILL_SCHEDULER, pattern: inventory.schedules.restoreDrill, jobName: 'restore-drill' },
      ],
      process: (job) => this.process(job),
      logger: new Logger(BackupScheduler.name),
      what: 'backups',
      lockDuration: 60_000,
    });
  }

  onModuleInit(): void {
    this.scheduled.start();
  }

  /** One scheduled run, audited like a request; waits for it to end. */
  async requestAndWait(procedureId: string, parameters: Record<string, unknown>): Promise<string> {
    try {
      const run = await this.runner.request(procedureId, { parameters }, SCHEDULER_IDENTITY);
      await this.audit.recordSafely({
        actor: SCHEDULER_IDENTITY,
        action: procedureId,
        target: `run:${run.id}`,
        parameters,
        outcome: 'success',
      });
      const ended = await this.actions.waitFor(run.id, 6 * 3600);
      return `${procedureId} ${ended.status}${ended.error ? `: ${ended.error}` : ''}`;
    } catch (error) {
      await this.audit.recordSafely({
        actor: SCHEDULER_IDENTITY,
        action: procedureId,
        parameters,
        outcome: 'failure',
        errorCode: (error as { code?: string }).code ?? 'ERROR',
      });
      throw error;
    }
  }

  async process(job: Job): Promise<string> {
    if (job.name === 'daily-backup') {
      const created = await this.requestAndWait('backup.create', {});
      const pruned = await this.requestAndWait('backup.retention', { mode: 'window' });
      return `${created}; ${pruned}`;
    }
    if (job.name === 'restore-drill') {
      const newest = await this.backups.newest();
      if (!newest) return 'no backup to drill';
      return this.requestAndWait('backup.verify', { backupId: newest.id });
    }
    return `unknown job ${job.name}`;
  }

  onApplicationShutdown(): Promise<void> {
    return this.scheduled.close();
  }
}
