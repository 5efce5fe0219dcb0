import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../../common/errors';
import { Identity } from '../../common/request-context';
import { Role, roleHasLevel } from '../../common/rights';
import { FINISHED } from '../../procedures/run.entity';
import { RunnerService, RunView } from '../../procedures/runner.service';
import { BackupService, CatalogItem } from './backup.service';

export interface WaitOptions {
  wait?: boolean;
  waitSeconds?: number;
}

/**
 * The backup API's actions, shared by REST and GraphQL: each is a run of a backup procedure
 * (rights, approval, locks, audit and the job queue are the runner's), optionally waited for.
 */
/** How often a wait re-reads the run's record, in case its end event was lost. */
const RECHECK_MS = 5000;

@Injectable()
export class BackupActions {
  constructor(
    private readonly runner: RunnerService,
    private readonly backups: BackupService,
  ) {}

  /**
   * The run once it has ended (or awaits approval), or as it is at the deadline. Listens to the
   * run's events: the feed subscribes before it reads the snapshot, so an end that happens in
   * between is in the snapshot or among the events. Redis pub/sub delivers at most once (a
   * message sent while the subscriber reconnects is gone), so the run's record is also read
   * every RECHECK_MS: a lost end event costs seconds, never the whole wait.
   */
  async waitFor(runId: string, seconds: number): Promise<RunView> {
    const feed = await this.runner.events(runId);
    const deadline = setTimeout(() => void feed.return(), seconds * 1000);
    const recheck = setInterval(() => {
      this.runner.get(runId).then(
        (run) => (FINISHED.includes(run.status) || run.status === 'awaiting_approval' ? void feed.return() : undefined),
        () => undefined,
      );
    }, RECHECK_MS);
    try {
      for await (const event of feed) {
        const status = event.type === 'snapshot' || event.type === 'status' ? event.data.status : undefined;
        if (status === 'awaiting_approval') break;
      }
    } finally {
      clearTimeout(deadline);
      clearInterval(recheck);
      await feed.return();
    }
    return this.runner.get(runId);
  }

  private async result(run: RunView, backupId: string | null, options: WaitOptions) {
    const ended = options.wait && !run.dryRun ? await this.waitFor(run.id, options.waitSeconds ?? 900) : run;
    const made = ended.steps.find((s) => s.stepId === 'dump')?.output?.backupId;
    const id = (typeof made === 'string' ? made : null) ?? backupId;
    return { run: ended, backup: id ? await this.item(id).catch(() => null) : null };
  }

  async item(id: string): Promise<CatalogItem> {
    return this.backups.describeWithFile(await this.backups.entry(id, { allowDeleted: true }));
  }

  async create(identity: Identity, dryRun: boolean, options: WaitOptions) {
    return this.result(await this.runner.request('backup.create', { parameters: {}, dryRun }, identity), null, options);
  }

  async verify(identity: Identity, backupId: string, dryRun: boolean, options: WaitOptions) {
    return this.result(await this.runner.request('backup.verify', { parameters: { backupId }, dryRun }, identity), backupId, options);
  }

  async restore(identity: Identity, backupId: string, body: { dryRun?: boolean; confirm?: string; force?: boolean }, options: WaitOptions) {
    // Refused before anything is queued (the procedure's first step checks again at run time).
    if (roleHasLevel(identity.role, 'P1', 'database')) {
      const entry = await this.backups.entry(backupId);
      if (body.force && identity.role !== Role.Admin)
        throw new DomainError(ErrorCode.Forbidden, 'force (restoring a backup that is not verified) is for admins only', {
          yourRole: identity.role,
        });
      if (entry.verifyStatus !== 'verified' && !body.force) {
        throw new DomainError(
          ErrorCode.Conflict,
          `backup ${backupId} is ${entry.verifyStatus}${entry.verifyError ? ` (${entry.verifyError.slice(0, 300)})` : ''}: only a verified backup is restored; verify it first (an admin may force it)`,
          { verifyStatus: entry.verifyStatus },
        );
      }
    }
    const parameters = body.force === undefined ? { backupId } : { backupId, force: body.force };
    return this.result(
      await this.runner.request('backup.restore', { parameters, dryRun: body.dryRun, confirm: body.confirm }, identity),
      backupId,
      options,
    );
  }

  async remove(identity: Identity, backupId: string, dryRun: boolean, options: WaitOptions) {
    return this.result(await this.runner.request('backup.delete', { parameters: { backupId }, dryRun }, identity), backupId, options);
  }

  async retention(
    identity: Identity,
    body: { dryRun?: boolean; mode?: string; retentionDays?: number; keepLast?: number },
    options: WaitOptions,
  ) {
    const { dryRun, ...rest } = body;
    const parameters = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    return this.result(await this.runner.request('backup.retention', { parameters, dryRun }, identity), null, options);
  }
}
