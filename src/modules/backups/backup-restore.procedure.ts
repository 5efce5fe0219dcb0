/**
 * Runbook "Restore from Backup": check the backup, take a safety backup, stop the backend,
 * restore in one transaction, ANALYZE, start the backend. Any failure from stopping the
 * backend on starts it again first; the database rolls back by itself (no COMMIT was sent).
 */
import { Inventory } from '../../config/inventory.schema';
import { DockerPort, HttpProbePort } from '../../integrations/contracts';
import { defineProcedure, defineStep, ProcedureDefinition } from '../../procedures/procedure';
import { containerOf, startBackend, waitBackendHealthy } from '../../procedures/stack-steps';
import { restoreParameters, RestoreParameters } from './backup.parameters';
import { BackupService } from './backup.service';
import { HOUR, workOf } from './work';

/** What the restore steps use. */
export interface RestoreDeps {
  backups: BackupService;
  inventory: Inventory;
  docker: DockerPort;
  http: HttpProbePort;
}

/** Runs a restore step; if it fails (or is cancelled), the backend is started again first. */
async function startingBackendOnFailure<T>({ inventory, docker }: RestoreDeps, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await startBackend(inventory, docker);
    throw error;
  }
}

/** The backup is in the catalog, verified (or forced, by an admin only) and its file is there. */
export const checkBackupStep = ({ backups }: Pick<RestoreDeps, 'backups'>) =>
  defineStep<RestoreParameters>({
    id: 'check-backup',
    title: 'The backup is in the catalog, verified (or forced by an admin) and its file is there',
    timeoutMs: 60_000,
    plan: async (ctx) => {
      const entry = await backups.entry(ctx.parameters.backupId);
      return {
        backupId: entry.id,
        fileName: entry.fileName,
        createdAt: entry.createdAt.toISOString(),
        verifyStatus: entry.verifyStatus,
        verifiedAt: entry.verifiedAt?.toISOString() ?? null,
        force: ctx.parameters.force,
      };
    },
    run: async (ctx) => {
      const entry = await backups.entry(ctx.parameters.backupId);
      if (ctx.parameters.force && ctx.requester.role !== 'admin')
        throw new Error('force (restoring an unverified backup) is for admins only');
      if (entry.verifyStatus !== 'verified' && !ctx.parameters.force) {
        throw new Error(
          `backup ${entry.id} is ${entry.verifyStatus}${entry.verifyError ? ` (${entry.verifyError})` : ''}: only a verified backup is restored (an admin may force it)`,
        );
      }
      return { backupId: entry.id, fileName: entry.fileName, verifyStatus: entry.verifyStatus, forced: ctx.parameters.force };
    },
  });

export const safetyBackupStep = ({ backups }: Pick<RestoreDeps, 'backups'>) =>
  defineStep<RestoreParameters>({
    id: 'safety-backup',
    title: 'Take a safety backup of the current state',
    timeoutMs: 6 * HOUR,
    plan: () => backups.planCreate('safety'),
    run: async (ctx) => {
      const entry = await backups.create('safety', workOf(ctx));
      return { backupId: entry.id, fileName: entry.fileName, sizeBytes: entry.sizeBytes };
    },
  });

export const stopBackendStep = (deps: RestoreDeps) =>
  defineStep<RestoreParameters>({
    id: 'stop-backend',
    title: 'Stop the backend container (releases its database connections)',
    timeoutMs: 90_000,
    plan: async () => ({ container: containerOf(deps.inventory, 'backend'), action: 'docker stop (10 s grace)' }),
    run: async () => {
      const backend = containerOf(deps.inventory, 'backend');
      await startingBackendOnFailure(deps, () => deps.docker.stopContainer(backend, { timeoutMs: 60_000, graceSeconds: 10 }));
      return { container: backend, stopped: true };
    },
  });

export const restoreDatabaseStep = (deps: RestoreDeps) =>
  defineStep<RestoreParameters>({
    id: 'restore-database',
    title: 'Restore the backup in one transaction (ON_ERROR_STOP); any failure rolls back',
    timeoutMs: 6 * HOUR,
    plan: async (ctx) => {
      const { backups } = deps;
      const entry = await backups.entry(ctx.parameters.backupId);
      return {
        database: backups.erpDatabase,
        fileName: entry.fileName,
        command: `gunzip | ${backups.restoreCommand(backups.erpDatabase)} (BEGIN … COMMIT only after the whole file matched its SHA-256)`,
      };
    },
    run: async (ctx) =>
      startingBackendOnFailure(deps, async () => {
        const { backups } = deps;
        const entry = await backups.entry(ctx.parameters.backupId);
        const options = { force: ctx.parameters.force, phase: 'restore' };
        const result = await backups.restoreFile(entry, backups.erpDatabase, workOf(ctx), options);
        return { database: backups.erpDatabase, restoreMs: result.durationMs, tables: Object.keys(entry.rowCounts).length };
      }),
  });

export const analyzeStep = (deps: RestoreDeps) =>
  defineStep<RestoreParameters>({
    id: 'analyze',
    title: 'ANALYZE (fresh planner statistics)',
    timeoutMs: 60 * 60_000,
    plan: async () => ({ database: deps.backups.erpDatabase, statement: 'ANALYZE' }),
    run: async () => {
      await startingBackendOnFailure(deps, () => deps.backups.analyze());
      return { analyzed: true };
    },
  });

export const startBackendStep = ({ inventory, docker, http }: RestoreDeps) =>
  defineStep<RestoreParameters>({
    id: 'start-backend',
    title: 'Start the backend and wait until it is healthy',
    timeoutMs: (inventory.backups.backendHealthySeconds + 60) * 1000,
    plan: async () => ({
      container: containerOf(inventory, 'backend'),
      healthUrl: inventory.urls.backendHealth,
      waitSeconds: inventory.backups.backendHealthySeconds,
    }),
    run: async (ctx) => {
      await docker.startContainer(containerOf(inventory, 'backend'), { timeoutMs: 30_000 });
      return waitBackendHealthy(inventory, docker, http, ctx.signal);
    },
  });

/** backup.restore (P1, a second person approves; the confirmation is the database's name). */
export function restoreProcedure(deps: RestoreDeps): ProcedureDefinition<RestoreParameters> {
  const { backups, inventory, docker } = deps;
  return defineProcedure<RestoreParameters>({
    id: 'backup.restore',
    title: 'Restore the ERP database from a verified backup (runbook "Restore from Backup")',
    severity: 'P1',
    situation: 'data-at-risk',
    domain: 'database',
    parameters: restoreParameters,
    locks: (p) => ['erp:postgres', 'erp:backend', `backup:${p.backupId}`],
    requiresApproval: true,
    confirmation: () => backups.erpDatabase,
    // The database rolled back by itself (no COMMIT was sent); the backend must not stay stopped.
    onInterrupted: async (_p, lastStep) => {
      if (!lastStep || ['check-backup', 'safety-backup'].includes(lastStep)) return null;
      const backend = containerOf(inventory, 'backend');
      await docker.startContainer(backend, { timeoutMs: 30_000 });
      return `the backend container ${backend} was started again`;
    },
    steps: [
      checkBackupStep(deps),
      safetyBackupStep(deps),
      stopBackendStep(deps),
      restoreDatabaseStep(deps),
      analyzeStep(deps),
      startBackendStep(deps),
    ],
  });
}
