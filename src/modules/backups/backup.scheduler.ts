import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { closeQueueClients } from '../../common/bounded-close';
import { Identity } from '../../common/request-context';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { Inventory } from '../../config/inventory.schema';
import { Role } from '../../guards/rights';
import { AuditService } from '../audit/audit.service';
import { RunnerService } from '../../procedures/runner.service';
import { BackupActions } from './backup-actions';
import { SCHEDULER_USERNAME } from './backup.procedures';
import { BackupService } from './backup.service';

export const BACKUPS_QUEUE = 'backups';
export const DAILY_BACKUP_SCHEDULER = 'daily-backup';
export const WEEKLY_DRILL_SCHEDULER = 'weekly-restore-drill';

/** Who scheduled runs are requested by (audited as such). */
export const SCHEDULER_IDENTITY: Identity = { kind: 'token', id: SCHEDULER_USERNAME, username: SCHEDULER_USERNAME, role: Role.Admin };

/**
 * The backup schedules (cron entries of the inventory, in its time zone), through BullMQ job
 * schedulers: every replica registers the same ones and each tick is one job one worker
 * takes. Daily: create, then retention right after it. Weekly: a restore drill of the newest
 * backup. Each is an ordinary procedure run (requested by "scheduler"), locks included.
 */
@Injectable()
export class BackupScheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(BackupScheduler.name);
  private queue?: Queue;
  private worker?: Worker;
  private connection?: Redis;
  private retry?: NodeJS.Timeout;
  private closing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly runner: RunnerService,
    private readonly actions: BackupActions,
    private readonly backups: BackupService,
    private readonly audit: AuditService,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.OPS_SCHEDULER) return;
    this.connection = new Redis(this.config.OPS_REDIS_URL, { maxRetriesPerRequest: null });
    this.connection.on('error', () => undefined);
    const prefix = `${this.config.OPS_REDIS_PREFIX}bull`;
    this.queue = new Queue(BACKUPS_QUEUE, { connection: this.connection, prefix });
    this.queue.on('error', (error) => this.logger.warn(`backups queue: ${error.message}`));
    this.worker = new Worker(BACKUPS_QUEUE, (job) => this.process(job), { connection: this.connection, prefix, concurrency: 1, lockDuration: 60_000 });
    this.worker.on('error', (error) => this.logger.warn(`backups queue: ${error.message}`));
    void this.register();
  }

  private async register(attempt = 1): Promise<void> {
    if (!this.queue || this.closing) return;
    const tz = this.inventory.timezone;
    try {
      await this.queue.upsertJobScheduler(DAILY_BACKUP_SCHEDULER, { pattern: this.inventory.schedules.backup, tz }, { name: 'daily-backup', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } });
      await this.queue.upsertJobScheduler(WEEKLY_DRILL_SCHEDULER, { pattern: this.inventory.schedules.restoreDrill, tz }, { name: 'restore-drill', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } });
      this.logger.log(`backups scheduled: "${this.inventory.schedules.backup}", drill "${this.inventory.schedules.restoreDrill}" (${tz})`);
    } catch (error) {
      this.logger.warn(`backups not scheduled yet (attempt ${attempt}): ${(error as Error).message}`);
      this.retry = setTimeout(() => void this.register(attempt + 1), Math.min(30_000, 1000 * attempt));
      this.retry.unref();
    }
  }

  /** One scheduled run, audited like a request; waits for it to end. */
  async requestAndWait(procedureId: string, parameters: Record<string, unknown>): Promise<string> {
    try {
      const run = await this.runner.request(procedureId, { parameters }, SCHEDULER_IDENTITY);
      await this.audit.recordSafely({ actor: SCHEDULER_IDENTITY, action: procedureId, target: `run:${run.id}`, parameters, outcome: 'success' });
      const ended = await this.actions.waitFor(run.id, 6 * 3600);
      return `${procedureId} ${ended.status}${ended.error ? `: ${ended.error}` : ''}`;
    } catch (error) {
      await this.audit.recordSafely({ actor: SCHEDULER_IDENTITY, action: procedureId, parameters, outcome: 'failure', errorCode: (error as { code?: string }).code ?? 'ERROR' });
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

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retry);
    await closeQueueClients({ worker: this.worker, queue: this.queue, connection: this.connection });
  }
}
