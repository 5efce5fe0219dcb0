import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { maskCredentialsInText, maskUrl } from '../../../common/secrets';
import { EscalationError, ProcedureDefinition } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';
import { environmentSecrets, notifyRecorded, scrubLines } from './common';

const CALL = { timeoutMs: 10_000 };

export const crashLoopParameters = z
  .object({
    deadlineSeconds: z
      .number({ error: 'must be a whole number of seconds, 5-3600' })
      .int({ error: 'must be a whole number of seconds, 5-3600' })
      .min(5, { error: 'must be at least 5 seconds' })
      .max(3600, { error: 'must be at most 3600 seconds' })
      .optional(),
    pauseSeconds: z
      .number({ error: 'must be a whole number of seconds, 0-300' })
      .int({ error: 'must be a whole number of seconds, 0-300' })
      .min(0)
      .max(300, { error: 'must be at most 300 seconds' })
      .optional(),
  })
  .strict();
type Params = z.infer<typeof crashLoopParameters>;

/** A DATABASE_URL shown with its password masked; a value that is not a valid URL is not shown at all. */
function shownValue(value: string): string {
  try {
    new URL(value);
  } catch {
    return '(set, but not a valid URL: check its format; the value is not shown)';
  }
  return maskCredentialsInText(maskUrl(value));
}

/** Runbook "Issue 6: API Container Crashes". */
export function crashLoopProcedure({ inventory, docker, http, notifier }: RemediationDeps): ProcedureDefinition<Params> {
  const backend = () => containerOf(inventory, 'backend');
  const postgres = () => containerOf(inventory, 'postgres');
  const deadline = (p: Params) => p.deadlineSeconds ?? inventory.remediations.backendRecoverySeconds;
  const pause = (p: Params) => p.pauseSeconds ?? inventory.remediations.backendRestartPauseSeconds;

  const diagnose = async () => {
    const [info, logs, db, env] = await Promise.all([
      docker.inspectContainer(backend(), CALL),
      docker.tailLogs(backend(), 100, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]),
      docker.inspectContainer(postgres(), CALL).catch((e: Error) => ({ error: e.message }) as const),
      docker.containerEnv(backend(), CALL).catch((e: Error) => ({ __error: e.message }) as Record<string, string>),
    ]);
    const url = env.DATABASE_URL;
    // The backend's secret values (from its environment) are blanked out of every log line shown.
    const secrets = env.__error ? [] : environmentSecrets(env);
    return {
      backend: {
        container: backend(),
        state: info.state,
        health: info.health,
        restartCount: info.restartCount,
        exitCode: info.exitCode,
        restarting: info.state === 'restarting',
      },
      postgres: 'error' in db ? { container: postgres(), error: db.error } : { container: postgres(), state: db.state, health: db.health },
      databaseUrl: env.__error
        ? { error: env.__error }
        : url
          ? { set: true, value: shownValue(url) }
          : {
              set: false,
              note: "DATABASE_URL is not set in the backend container's environment: fix the environment file (.env.production) and recreate the container",
            },
      logs: scrubLines(logs, secrets),
    };
  };

  return {
    id: 'backend.crash-loop',
    title: 'Backend container crash loop: diagnose, stop and start it, watch until healthy',
    severity: 'P2',
    domain: 'system',
    parameters: crashLoopParameters,
    locks: () => ['erp:backend'],
    requiresApproval: false,
    // Stopped by this run and then left (worker died, run cancelled): start it again.
    onInterrupted: async (_p, lastStep) => {
      if (lastStep !== 'restart') return null;
      await docker.startContainer(backend(), { timeoutMs: 30_000 });
      return `the backend container ${backend()} was started again`;
    },
    steps: [
      {
        id: 'diagnose',
        title: 'Last 100 log lines, postgres state, DATABASE_URL (masked)',
        timeoutMs: 30_000,
        plan: () => diagnose(),
        run: () => diagnose(),
      },
      {
        id: 'restart',
        title: 'Stop the backend, pause, start it (docker-compose down/up backend)',
        timeoutMs: 120_000 + 300_000,
        plan: async (ctx) => ({ container: backend(), stop: true, pauseSeconds: pause(ctx.parameters), start: true }),
        run: async (ctx) => {
          await docker.stopContainer(backend(), { timeoutMs: 60_000, graceSeconds: 10 });
          try {
            await sleep(pause(ctx.parameters) * 1000, undefined, { signal: ctx.signal });
          } finally {
            // Started again even when cancelled during the pause: never left stopped.
            await docker.startContainer(backend(), { timeoutMs: 30_000 });
          }
          return { container: backend(), stopped: true, started: true, pauseSeconds: pause(ctx.parameters) };
        },
      },
      {
        id: 'watch',
        title: 'Watch until healthy, or escalate with the last 200 log lines',
        timeoutMs: 3_700_000,
        plan: async (ctx) => ({
          until: 'running and healthy, health URL 2xx',
          deadlineSeconds: deadline(ctx.parameters),
          healthUrl: inventory.urls.backendHealth,
        }),
        run: async (ctx) => {
          try {
            return await waitBackendHealthy(inventory, docker, http, ctx.signal, deadline(ctx.parameters));
          } catch (error) {
            if (ctx.signal.aborted) throw error;
            const [raw, info, env] = await Promise.all([
              docker.tailLogs(backend(), 200, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]),
              docker.inspectContainer(backend(), CALL).catch(() => null),
              docker.containerEnv(backend(), CALL).catch(() => ({}) as Record<string, string>),
            ]);
            const logs = scrubLines(raw, environmentSecrets(env));
            const p1 = inventory.escalation.P1;
            const notified = await notifyRecorded(notifier, {
              audience: 'emergency',
              subject: `ERP backend still crashing after a restart: escalated (P1) to ${p1.contacts.join(', ')}`,
              text: `The backend container ${backend()} is ${info ? `${info.state}/${info.health}, ${info.restartCount} restarts` : 'in an unknown state'} after backend.crash-loop run ${ctx.runId}. ${(error as Error).message}. Last log lines:\n${logs.slice(-20).join('\n')}`,
            });
            throw new EscalationError(`the backend is still not healthy after ${deadline(ctx.parameters)} s: ${(error as Error).message}`, {
              container: backend(),
              state: info ? { state: info.state, health: info.health, restartCount: info.restartCount, exitCode: info.exitCode } : null,
              logs,
              ...notified,
            });
          }
        },
      },
    ],
  };
}
