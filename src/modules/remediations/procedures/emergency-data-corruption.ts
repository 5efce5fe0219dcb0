import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EscalationError, ProcedureDefinition, StepContext, StepOutput } from '../../../procedures/procedure';
import { containerOf } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';
import { notifyRecorded, requesterOf } from './common';

const SQL_CALL = { timeoutMs: 5 * 60_000 };
const HOUR = 3_600_000;

const backupId = z
  .string({ error: 'must be a backup id from GET /api/v1/backups (a uuid)' })
  .refine((v) => !/[\\/]|\.\./.test(v), { error: 'must be a backup id from GET /api/v1/backups, never a path' })
  .pipe(z.uuid({ error: 'must be a backup id from GET /api/v1/backups (a uuid)' }));

export const corruptionParameters = z
  .object({
    /** Restore this verified backup after the checks (the runbook's step 4); without it, the run checks only. */
    restoreBackupId: backupId.optional(),
    smokeSeconds: z
      .number({ error: 'must be a whole number of seconds, 5-3600' })
      .int({ error: 'must be a whole number of seconds, 5-3600' })
      .min(5)
      .max(3600)
      .default(120),
  })
  .strict();
type Params = z.infer<typeof corruptionParameters>;

interface CheckFinding {
  name: string;
  sql?: string;
  wrongRows?: number;
  error?: string;
}

/** Runbook "Emergency Procedures: Data Corruption Detected". */
export function dataCorruptionProcedure({
  inventory,
  docker,
  targetDb,
  backups,
  checklist,
  notifier,
  dataSource,
}: RemediationDeps): ProcedureDefinition<Params> {
  const erpDb = new URL(inventory.erpDatabase.url).pathname.replace(/^\//, '');
  const backend = () => containerOf(inventory, 'backend');
  /** Per run: whether the database may have been changed (a restore began). */
  const touched = new Map<string, boolean>();

  const integrity = async (): Promise<{ findings: CheckFinding[]; amcheck: Record<string, unknown>; corrupt: boolean }> => {
    const findings: CheckFinding[] = [];
    for (const check of inventory.erpDatabase.integrityChecks) {
      try {
        findings.push({ name: check.name, sql: check.sql, wrongRows: await targetDb.integrityCheck(check.sql, SQL_CALL) });
      } catch (error) {
        findings.push({ name: check.name, sql: check.sql, error: (error as Error).message });
      }
    }
    const am = await targetDb
      .amcheck(SQL_CALL)
      .catch((error: Error) => ({ installed: false, indexesChecked: 0, errors: [], error: error.message }));
    const amcheck = am.installed
      ? am
      : { ...am, note: 'amcheck is not installed in the ERP database (CREATE EXTENSION amcheck to check indexes)' };
    const corrupt = findings.some((f) => (f.wrongRows ?? 0) > 0) || am.errors.length > 0;
    return { findings, amcheck, corrupt };
  };

  /**
   * Runs a step; when it fails, the backend is unpaused only if the database was not touched,
   * otherwise it stays paused and the run escalates (data at risk: P1).
   */
  const guarded = async (ctx: StepContext<Params>, what: string, fn: () => Promise<StepOutput>): Promise<StepOutput> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof EscalationError) throw error;
      if (!touched.get(ctx.runId)) {
        await docker.unpauseContainer(backend(), { timeoutMs: 30_000 }).catch(() => undefined);
        touched.delete(ctx.runId);
        throw new Error(`${what} failed: ${(error as Error).message}; the database was not touched, the backend was unpaused`);
      }
      throw new EscalationError(`${what} failed after the database was touched: ${(error as Error).message}; the backend stays paused`, {
        backendPaused: true,
        database: erpDb,
      });
    }
  };

  return {
    id: 'emergency.data-corruption',
    title: 'Data corruption: stop writes, back up, check integrity, restore a verified backup, resume, smoke test',
    severity: 'P1',
    domain: 'system',
    parameters: corruptionParameters,
    locks: (p) => ['erp:postgres', 'erp:backend', ...(p.restoreBackupId ? [`backup:${p.restoreBackupId}`] : [])],
    requiresApproval: true,
    confirmation: () => erpDb,
    onEnd: (runId) => void touched.delete(runId),
    onInterrupted: async (_p, lastStep) => {
      if (!lastStep || ['pause-backend', 'backup', 'integrity'].includes(lastStep)) {
        await docker.unpauseContainer(backend(), { timeoutMs: 30_000 });
        return `the database was not touched: the backend ${backend()} was unpaused`;
      }
      if (lastStep === 'restore')
        return `the restore was interrupted (its transaction rolled back); the backend ${backend()} stays paused: check the database, then run emergency.data-corruption again`;
      await docker.unpauseContainer(backend(), { timeoutMs: 30_000 }).catch(() => undefined);
      return `the backend ${backend()} was unpaused`;
    },
    steps: [
      {
        id: 'pause-backend',
        title: 'Stop all writes: pause the backend; tell the users "System in maintenance"',
        timeoutMs: 60_000,
        plan: async () => ({ container: backend(), action: 'docker pause', notify: inventory.notifications.slackChannel }),
        run: async (ctx) => {
          touched.set(ctx.runId, false);
          await docker.pauseContainer(backend(), { timeoutMs: 30_000 });
          const notified = await notifyRecorded(
            notifier,
            {
              subject: 'ERP system in maintenance',
              text: `System in maintenance: data integrity is being checked (emergency.data-corruption run ${ctx.runId}).`,
            },
            ctx.signal,
          );
          return { container: backend(), paused: true, ...notified };
        },
      },
      {
        id: 'backup',
        title: 'Back up the current state',
        timeoutMs: 6 * HOUR,
        plan: () => backups.planCreate('safety'),
        run: (ctx) =>
          guarded(ctx, 'the backup of the current state', async () => {
            const entry = await backups.create('safety', { runId: ctx.runId, signal: ctx.signal, progress: ctx.progress });
            return { backupId: entry.id, fileName: entry.fileName, sizeBytes: entry.sizeBytes };
          }),
      },
      {
        id: 'integrity',
        title: "Integrity checks (the inventory's SQL checks, amcheck where installed)",
        timeoutMs: HOUR,
        plan: async () => ({
          checks: inventory.erpDatabase.integrityChecks,
          amcheck: 'bt_index_check on every B-tree index of the public schema, when installed',
        }),
        run: (ctx) =>
          guarded(ctx, 'the integrity checks', async () => {
            const result = await integrity();
            const broken = result.findings.filter((f) => f.error);
            if (broken.length)
              throw new Error(`integrity check(s) could not run: ${broken.map((f) => `${f.name}: ${f.error}`).join('; ')}`);
            if (result.corrupt && !ctx.parameters.restoreBackupId) {
              throw new EscalationError(
                'corruption found and no backup chosen to restore: the backend stays paused (writes stopped); choose a verified backup (GET /api/v1/backups) and run again with restoreBackupId',
                { ...result, backendPaused: true },
              );
            }
            return { ...result };
          }),
      },
      {
        id: 'restore',
        title: 'Restore the chosen verified backup (one transaction), ANALYZE, check again',
        timeoutMs: 6 * HOUR,
        plan: async (ctx) => {
          if (!ctx.parameters.restoreBackupId) return { restore: false };
          const entry = await backups.entry(ctx.parameters.restoreBackupId);
          return {
            restore: true,
            backupId: entry.id,
            fileName: entry.fileName,
            createdAt: entry.createdAt.toISOString(),
            verifyStatus: entry.verifyStatus,
            database: erpDb,
          };
        },
        run: (ctx) =>
          guarded(ctx, 'the restore', async () => {
            if (!ctx.parameters.restoreBackupId) return { restore: false, reason: 'no restoreBackupId: checks only' };
            const entry = await backups.entry(ctx.parameters.restoreBackupId);
            if (entry.verifyStatus !== 'verified')
              throw new Error(
                `backup ${entry.id} is ${entry.verifyStatus}: only a verified backup is restored here (verify it first: backup.verify)`,
              );
            touched.set(ctx.runId, true);
            // The paused backend's sessions (idle, perhaps idle in a transaction holding locks)
            // would block the restore's DROPs: they end first, as stopping the backend would.
            const sessions = await targetDb.sessions(SQL_CALL);
            const clients = sessions
              .filter((x) => x.backendType === 'client backend' && !x.application.startsWith('erp-ops'))
              .map((x) => x.pid);
            const ended = await targetDb.terminateIdle(clients, new Date(), SQL_CALL);
            const restored = await backups.restoreFile(
              entry,
              backups.erpTarget(),
              erpDb,
              { runId: ctx.runId, signal: ctx.signal, progress: ctx.progress },
              { phase: 'restore' },
            );
            await backups.analyze();
            const after = await integrity();
            const count = await targetDb.countRows(inventory.erpDatabase.countTable, SQL_CALL);
            if (after.corrupt)
              throw new Error(
                `the integrity checks still fail after restoring ${entry.fileName}: ${JSON.stringify(after.findings.filter((f) => (f.wrongRows ?? 0) > 0))}`,
              );
            return {
              restore: true,
              backupId: entry.id,
              fileName: entry.fileName,
              sessionsEnded: ended.length,
              restoreMs: restored.durationMs,
              [`${inventory.erpDatabase.countTable}Rows`]: count,
              integrity: after,
            };
          }),
      },
      {
        id: 'unpause',
        title: 'Resume operations: unpause the backend',
        timeoutMs: 60_000,
        plan: async () => ({ container: backend(), action: 'docker unpause' }),
        run: (ctx) =>
          guarded(ctx, 'unpausing the backend', async () => {
            await docker.unpauseContainer(backend(), { timeoutMs: 30_000 });
            return { container: backend(), paused: false };
          }),
      },
      {
        id: 'smoke',
        title: 'Smoke test: the daily checklist (services, database, API pass)',
        timeoutMs: HOUR,
        plan: async (ctx) => ({ checklist: 'services, database and api pass', deadlineSeconds: ctx.parameters.smokeSeconds }),
        run: async (ctx) => {
          const deadline = Date.now() + ctx.parameters.smokeSeconds * 1000;
          const by = await requesterOf(dataSource, ctx.runId);
          for (;;) {
            const run = await checklist.run('manual', by);
            const failing = run.items.filter(
              (i) => ['services', 'database', 'api'].includes(i.item) && i.verdict !== 'pass' && i.verdict !== 'warn',
            );
            if (!failing.length)
              return { checklistRunId: run.id, verdict: run.verdict, items: run.items.map((i) => ({ item: i.item, verdict: i.verdict })) };
            if (Date.now() > deadline || ctx.signal.aborted) {
              throw new EscalationError(
                `the smoke test fails after resuming: ${failing.map((i) => `${i.item} (${i.verdict}: ${i.nextStep ?? ''})`).join(', ')}`,
                { checklistRunId: run.id },
              );
            }
            await sleep(2000, undefined, { signal: ctx.signal }).catch(() => undefined);
          }
        },
      },
      {
        id: 'notify',
        title: 'Notify the users: "System restored"',
        timeoutMs: 30_000,
        plan: async () => ({ notify: [inventory.notifications.slackChannel, inventory.notifications.email] }),
        run: async (ctx) => {
          touched.delete(ctx.runId);
          return notifyRecorded(
            notifier,
            {
              subject: 'ERP system restored',
              text: `System restored: the data checks pass and the system is back in service (emergency.data-corruption run ${ctx.runId}).`,
            },
            ctx.signal,
          );
        },
      },
    ],
  };
}
