/**
 * Runbook "Emergency Procedures: Data Corruption Detected": stop writes (pause the backend),
 * back up the current state, check integrity, restore a verified backup when one is chosen,
 * resume and smoke test. Until a restore begins, a failure unpauses the backend (the database
 * was not touched); after that it stays paused and the run escalates (data at risk: P1).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EscalationError, defineProcedure, defineStep, ProcedureDefinition, StepOutput } from '../../../procedures/procedure';
import { wholeNumber } from '../../../procedures/parameters';
import { containerOf } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';
import { notifyRecorded } from './common';

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
    smokeSeconds: wholeNumber('seconds', 5, 3600, 120).default(120),
  })
  .strict();
export type CorruptionParameters = z.infer<typeof corruptionParameters>;

/** What the steps use. */
export type CorruptionDeps = Pick<RemediationDeps, 'inventory' | 'docker' | 'targetDb' | 'backups' | 'checklist' | 'notifier'>;

interface CheckFinding {
  name: string;
  sql?: string;
  wrongRows?: number;
  error?: string;
}

const backendOf = (deps: Pick<CorruptionDeps, 'inventory'>) => containerOf(deps.inventory, 'backend');
const databaseOf = (deps: Pick<CorruptionDeps, 'inventory'>) => new URL(deps.inventory.erpDatabase.url).pathname.replace(/^\//, '');

/** The inventory's SQL integrity checks and amcheck; corrupt when any finds wrong rows or index errors. */
export async function integrity({ inventory, targetDb }: Pick<CorruptionDeps, 'inventory' | 'targetDb'>) {
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
  const amcheck: Record<string, unknown> = am.installed
    ? am
    : { ...am, note: 'amcheck is not installed in the ERP database (CREATE EXTENSION amcheck to check indexes)' };
  const corrupt = findings.some((f) => (f.wrongRows ?? 0) > 0) || am.errors.length > 0;
  return { findings, amcheck, corrupt };
}

/**
 * Runs a step's work; when it fails, the backend is unpaused only if the database was not
 * touched (`touched()`: a restore began), otherwise it stays paused and the run escalates.
 */
async function guarded(
  deps: Pick<CorruptionDeps, 'inventory' | 'docker'>,
  what: string,
  touched: () => boolean,
  fn: () => Promise<StepOutput>,
): Promise<StepOutput> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof EscalationError) throw error;
    if (!touched()) {
      await deps.docker.unpauseContainer(backendOf(deps), { timeoutMs: 30_000 }).catch(() => undefined);
      throw new Error(`${what} failed: ${(error as Error).message}; the database was not touched, the backend was unpaused`);
    }
    throw new EscalationError(`${what} failed after the database was touched: ${(error as Error).message}; the backend stays paused`, {
      backendPaused: true,
      database: databaseOf(deps),
    });
  }
}

const untouched = () => false;

export const pauseBackendStep = (deps: CorruptionDeps) =>
  defineStep<CorruptionParameters>({
    id: 'pause-backend',
    title: 'Stop all writes: pause the backend; tell the users "System in maintenance"',
    timeoutMs: 60_000,
    plan: async () => ({ container: backendOf(deps), action: 'docker pause', notify: deps.inventory.notifications.slackChannel }),
    run: async (ctx) => {
      await deps.docker.pauseContainer(backendOf(deps), { timeoutMs: 30_000 });
      const notified = await notifyRecorded(
        deps.notifier,
        {
          subject: 'ERP system in maintenance',
          text: `System in maintenance: data integrity is being checked (emergency.data-corruption run ${ctx.runId}).`,
        },
        ctx.signal,
      );
      return { container: backendOf(deps), paused: true, ...notified };
    },
  });

export const backupStep = (deps: CorruptionDeps) =>
  defineStep<CorruptionParameters>({
    id: 'backup',
    title: 'Back up the current state',
    timeoutMs: 6 * HOUR,
    plan: () => deps.backups.planCreate('safety'),
    run: (ctx) =>
      guarded(deps, 'the backup of the current state', untouched, async () => {
        const entry = await deps.backups.create('safety', { runId: ctx.runId, signal: ctx.signal, progress: ctx.progress });
        return { backupId: entry.id, fileName: entry.fileName, sizeBytes: entry.sizeBytes };
      }),
  });

export const integrityStep = (deps: CorruptionDeps) =>
  defineStep<CorruptionParameters>({
    id: 'integrity',
    title: "Integrity checks (the inventory's SQL checks, amcheck where installed)",
    timeoutMs: HOUR,
    plan: async () => ({
      checks: deps.inventory.erpDatabase.integrityChecks,
      amcheck: 'bt_index_check on every B-tree index of the public schema, when installed',
    }),
    run: (ctx) =>
      guarded(deps, 'the integrity checks', untouched, async () => {
        const result = await integrity(deps);
        const broken = result.findings.filter((f) => f.error);
        if (broken.length) throw new Error(`integrity check(s) could not run: ${broken.map((f) => `${f.name}: ${f.error}`).join('; ')}`);
        if (result.corrupt && !ctx.parameters.restoreBackupId) {
          throw new EscalationError(
            'corruption found and no backup chosen to restore: the backend stays paused (writes stopped); choose a verified backup (GET /api/v1/backups) and run again with restoreBackupId',
            { ...result, backendPaused: true },
          );
        }
        return { ...result };
      }),
  });

/**
 * The paused backend's sessions (idle, perhaps idle in a transaction holding locks) would
 * block the restore's DROPs: they end first, as stopping the backend would.
 */
async function endBackendSessions({ targetDb }: Pick<CorruptionDeps, 'targetDb'>): Promise<number[]> {
  const sessions = await targetDb.sessions(SQL_CALL);
  const clients = sessions.filter((x) => x.backendType === 'client backend' && !x.application.startsWith('erp-ops')).map((x) => x.pid);
  return targetDb.terminateIdle(clients, new Date(), SQL_CALL);
}

export const restoreStep = (deps: CorruptionDeps) =>
  defineStep<CorruptionParameters>({
    id: 'restore',
    title: 'Restore the chosen verified backup (one transaction), ANALYZE, check again',
    timeoutMs: 6 * HOUR,
    plan: async (ctx) => {
      if (!ctx.parameters.restoreBackupId) return { restore: false };
      const entry = await deps.backups.entry(ctx.parameters.restoreBackupId);
      return {
        restore: true,
        backupId: entry.id,
        fileName: entry.fileName,
        createdAt: entry.createdAt.toISOString(),
        verifyStatus: entry.verifyStatus,
        database: databaseOf(deps),
      };
    },
    run: (ctx) => {
      let touched = false;
      return guarded(
        deps,
        'the restore',
        () => touched,
        async () => {
          if (!ctx.parameters.restoreBackupId) return { restore: false, reason: 'no restoreBackupId: checks only' };
          const entry = await deps.backups.entry(ctx.parameters.restoreBackupId);
          if (entry.verifyStatus !== 'verified')
            throw new Error(
              `backup ${entry.id} is ${entry.verifyStatus}: only a verified backup is restored here (verify it first: backup.verify)`,
            );
          touched = true;
          const ended = await endBackendSessions(deps);
          const work = { runId: ctx.runId, signal: ctx.signal, progress: ctx.progress };
          const restored = await deps.backups.restoreFile(entry, databaseOf(deps), work, { phase: 'restore' });
          await deps.backups.analyze();
          const after = await integrity(deps);
          const countTable = deps.inventory.erpDatabase.countTable;
          const count = await deps.targetDb.countRows(countTable, SQL_CALL);
          if (after.corrupt)
            throw new Error(
              `the integrity checks still fail after restoring ${entry.fileName}: ${JSON.stringify(after.findings.filter((f) => (f.wrongRows ?? 0) > 0))}`,
            );
          const restoreMs = restored.durationMs;
          return {
            restore: true,
            backupId: entry.id,
            fileName: entry.fileName,
            sessionsEnded: ended.length,
            restoreMs,
            [`${countTable}Rows`]: count,
            integrity: after,
          };
        },
      );
    },
  });

export const unpauseStep = (deps: CorruptionDeps) =>
  defineStep<CorruptionParameters>({
    id: 'unpause',
    title: 'Resume operations: unpause the backend',
    timeoutMs: 60_000,
    plan: async () => ({ container: backendOf(deps), action: 'docker unpause' }),
    run: (ctx) =>
      // The restore step touched the database when it restored (it ended the run otherwise).
      guarded(
        deps,
        'unpausing the backend',
        () => ctx.outputOf('restore').restore === true,
        async () => {
          await deps.docker.unpauseContainer(backendOf(deps), { timeoutMs: 30_000 });
          return { container: backendOf(deps), paused: false };
        },
      ),
  });

export const smokeStep = ({ checklist }: Pick<CorruptionDeps, 'checklist'>) =>
  defineStep<CorruptionParameters>({
    id: 'smoke',
    title: 'Smoke test: the daily checklist (services, database, API pass)',
    timeoutMs: HOUR,
    plan: async (ctx) => ({ checklist: 'services, database and api pass', deadlineSeconds: ctx.parameters.smokeSeconds }),
    run: async (ctx) => {
      const deadline = Date.now() + ctx.parameters.smokeSeconds * 1000;
      for (;;) {
        const run = await checklist.run('manual', ctx.requester.username);
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
  });

export const notifyRestoredStep = ({ inventory, notifier }: Pick<CorruptionDeps, 'inventory' | 'notifier'>) =>
  defineStep<CorruptionParameters>({
    id: 'notify',
    title: 'Notify the users: "System restored"',
    timeoutMs: 30_000,
    plan: async () => ({ notify: [inventory.notifications.slackChannel, inventory.notifications.email] }),
    run: async (ctx) =>
      notifyRecorded(
        notifier,
        {
          subject: 'ERP system restored',
          text: `System restored: the data checks pass and the system is back in service (emergency.data-corruption run ${ctx.runId}).`,
        },
        ctx.signal,
      ),
  });

/** Runbook "Emergency Procedures: Data Corruption Detected". */
export function dataCorruptionProcedure(deps: RemediationDeps): ProcedureDefinition<CorruptionParameters> {
  const backend = () => backendOf(deps);
  return defineProcedure<CorruptionParameters>({
    id: 'emergency.data-corruption',
    title: 'Data corruption: stop writes, back up, check integrity, restore a verified backup, resume, smoke test',
    severity: 'P1',
    situation: 'data-at-risk',
    domain: 'system',
    parameters: corruptionParameters,
    locks: (p) => ['erp:postgres', 'erp:backend', ...(p.restoreBackupId ? [`backup:${p.restoreBackupId}`] : [])],
    requiresApproval: true,
    confirmation: () => databaseOf(deps),
    onInterrupted: async (_p, lastStep) => {
      if (!lastStep || ['pause-backend', 'backup', 'integrity'].includes(lastStep)) {
        await deps.docker.unpauseContainer(backend(), { timeoutMs: 30_000 });
        return `the database was not touched: the backend ${backend()} was unpaused`;
      }
      if (lastStep === 'restore')
        return `the restore was interrupted (its transaction rolled back); the backend ${backend()} stays paused: check the database, then run emergency.data-corruption again`;
      await deps.docker.unpauseContainer(backend(), { timeoutMs: 30_000 }).catch(() => undefined);
      return `the backend ${backend()} was unpaused`;
    },
    steps: [
      pauseBackendStep(deps),
      backupStep(deps),
      integrityStep(deps),
      restoreStep(deps),
      unpauseStep(deps),
      smokeStep(deps),
      notifyRestoredStep(deps),
    ],
  });
}
