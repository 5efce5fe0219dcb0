/**
 * Runbook "Issue 6: API Container Crashes": diagnose (logs, postgres, DATABASE_URL masked),
 * stop and start the backend, and watch it until healthy; still crashing → escalate (P1)
 * with its last log lines. Each step is a named object callable alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { environmentSecrets, maskCredentialsInText, maskLogLines, maskUrl } from '../../../common/secrets';
import { wholeNumber } from '../../../procedures/parameters';
import { defineProcedure, defineStep, EscalationError, ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';
import { notifyRecorded } from './common';
import { escalationOf } from '../../../config/escalation';

const CALL = { timeoutMs: 10_000 };

export const crashLoopParameters = z
  .object({
    /** How long the watch step waits for a healthy backend; default the inventory's remediations.backendRecoverySeconds. */
    deadlineSeconds: wholeNumber('seconds', 5, 3600, 120).optional(),
    /** The pause between stop and start; default the inventory's remediations.backendRestartPauseSeconds. */
    pauseSeconds: wholeNumber('seconds', 0, 300, 10).optional(),
  })
  .strict();
export type CrashLoopParameters = z.infer<typeof crashLoopParameters>;
type Ctx = StepContext<CrashLoopParameters>;

/** The adapters the steps use (the inventory comes with the step's context). */
export type CrashLoopDeps = Pick<RemediationDeps, 'docker' | 'http' | 'notifier'>;

const deadlineOf = (ctx: Ctx) => ctx.parameters.deadlineSeconds ?? ctx.inventory.remediations.backendRecoverySeconds;
const pauseOf = (ctx: Ctx) => ctx.parameters.pauseSeconds ?? ctx.inventory.remediations.backendRestartPauseSeconds;

/** A DATABASE_URL shown with its password masked; a value that is not a valid URL is not shown at all. */
export function shownDatabaseUrl(env: Record<string, string>): Record<string, unknown> {
  if (env.__error) return { error: env.__error };
  const url = env.DATABASE_URL;
  if (!url)
    return {
      set: false,
      note: "DATABASE_URL is not set in the backend container's environment: fix the environment file (.env.production) and recreate the container",
    };
  try {
    new URL(url);
  } catch {
    return { set: true, value: '(set, but not a valid URL: check its format; the value is not shown)' };
  }
  return { set: true, value: maskCredentialsInText(maskUrl(url)) };
}

async function diagnose({ docker }: Pick<CrashLoopDeps, 'docker'>, ctx: Ctx) {
  const [backend, postgres] = [containerOf(ctx.inventory, 'backend'), containerOf(ctx.inventory, 'postgres')];
  const [info, logs, db, env] = await Promise.all([
    docker.inspectContainer(backend, CALL),
    docker.tailLogs(backend, 100, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]),
    docker.inspectContainer(postgres, CALL).catch((e: Error) => ({ error: e.message }) as const),
    docker.containerEnv(backend, CALL).catch((e: Error) => ({ __error: e.message }) as Record<string, string>),
  ]);
  // The backend's secret values (from its environment) are blanked out of every log line shown.
  const secrets = env.__error ? [] : environmentSecrets(env);
  return {
    backend: {
      container: backend,
      state: info.state,
      health: info.health,
      restartCount: info.restartCount,
      exitCode: info.exitCode,
      restarting: info.state === 'restarting',
    },
    postgres: 'error' in db ? { container: postgres, error: db.error } : { container: postgres, state: db.state, health: db.health },
    databaseUrl: shownDatabaseUrl(env),
    logs: maskLogLines(logs, secrets),
  };
}

export const diagnoseStep = (deps: Pick<CrashLoopDeps, 'docker'>) =>
  defineStep<CrashLoopParameters>({
    id: 'diagnose',
    title: 'Last 100 log lines, postgres state, DATABASE_URL (masked)',
    timeoutMs: 30_000,
    plan: (ctx) => diagnose(deps, ctx),
    run: (ctx) => diagnose(deps, ctx),
  });

export const restartStep = ({ docker }: Pick<CrashLoopDeps, 'docker'>) =>
  defineStep<CrashLoopParameters>({
    id: 'restart',
    title: 'Stop the backend, pause, start it (docker-compose down/up backend)',
    timeoutMs: 120_000 + 300_000,
    plan: async (ctx) => ({ container: containerOf(ctx.inventory, 'backend'), stop: true, pauseSeconds: pauseOf(ctx), start: true }),
    run: async (ctx) => {
      const container = containerOf(ctx.inventory, 'backend');
      await docker.stopContainer(container, { timeoutMs: 60_000, graceSeconds: 10 });
      try {
        await sleep(pauseOf(ctx) * 1000, undefined, { signal: ctx.signal });
      } finally {
        // Started again even when cancelled during the pause: never left stopped.
        await docker.startContainer(container, { timeoutMs: 30_000 });
      }
      return { container, stopped: true, started: true, pauseSeconds: pauseOf(ctx) };
    },
  });

/** Still not healthy: notify the P1 contacts with the last log lines (secrets blanked) and escalate. */
async function escalation({ docker, notifier }: Pick<CrashLoopDeps, 'docker' | 'notifier'>, ctx: Ctx, error: Error) {
  const backend = containerOf(ctx.inventory, 'backend');
  const [raw, info, env] = await Promise.all([
    docker.tailLogs(backend, 200, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]),
    docker.inspectContainer(backend, CALL).catch(() => null),
    docker.containerEnv(backend, CALL).catch(() => ({}) as Record<string, string>),
  ]);
  const logs = maskLogLines(raw, environmentSecrets(env));
  const p1 = escalationOf(ctx.inventory, 'P1', 'system-down');
  const notified = await notifyRecorded(notifier, {
    audience: 'emergency',
    subject: `ERP backend still crashing after a restart: escalated (P1) to ${p1.contacts.join(', ')}`,
    text: `The backend container ${backend} is ${info ? `${info.state}/${info.health}, ${info.restartCount} restarts` : 'in an unknown state'} after backend.crash-loop run ${ctx.runId}. ${error.message}. Last log lines:\n${logs.slice(-20).join('\n')}`,
  });
  return new EscalationError(
    `the backend is still not healthy after ${deadlineOf(ctx)} s: ${error.message}`,
    {
      container: backend,
      state: info ? { state: info.state, health: info.health, restartCount: info.restartCount, exitCode: info.exitCode } : null,
      logs,
      ...notified,
    },
    'P1',
    'system-down',
  );
}

export const watchStep = (deps: CrashLoopDeps) =>
  defineStep<CrashLoopParameters>({
    id: 'watch',
    title: 'Watch until healthy, or escalate with the last 200 log lines',
    timeoutMs: 3_700_000,
    plan: async (ctx) => ({
      until: 'running and healthy, health URL 2xx',
      deadlineSeconds: deadlineOf(ctx),
      healthUrl: ctx.inventory.urls.backendHealth,
    }),
    run: async (ctx) => {
      try {
        return await waitBackendHealthy(ctx.inventory, deps.docker, deps.http, ctx.signal, deadlineOf(ctx));
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        throw await escalation(deps, ctx, error as Error);
      }
    },
  });

export function crashLoopProcedure(deps: CrashLoopDeps): ProcedureDefinition<CrashLoopParameters> {
  return defineProcedure<CrashLoopParameters>({
    id: 'backend.crash-loop',
    title: 'Backend container crash loop: diagnose, stop and start it, watch until healthy',
    severity: 'P2',
    domain: 'system',
    parameters: crashLoopParameters,
    locks: () => ['erp:backend'],
    requiresApproval: false,
    // Stopped by this run and then left (worker died, run cancelled): start it again.
    onInterrupted: async (_p, lastStep, inventory) => {
      if (lastStep !== 'restart') return null;
      const backend = containerOf(inventory, 'backend');
      await deps.docker.startContainer(backend, { timeoutMs: 30_000 });
      return `the backend container ${backend} was started again`;
    },
    steps: [diagnoseStep(deps), restartStep(deps), watchStep(deps)],
  });
}
