import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { maskUrl } from '../../../common/secrets';
import { EscalationError, ProcedureDefinition } from '../../../procedures/procedure';
import { containerOf, waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';
import { notifyRecorded } from './common';

const CALL = { timeoutMs: 10_000 };

export const crashLoopParameters = z
  .object({
    deadlineSeconds: z.number({ error: 'must be a whole number of seconds, 5-3600' }).int({ error: 'must be a whole number of seconds, 5-3600' }).min(5, { error: 'must be at least 5 seconds' }).max(3600, { error: 'must be at most 3600 seconds' }).optional(),
    pauseSeconds: z.number({ error: 'must be a whole number of seconds, 0-300' }).int({ error: 'must be a whole number of seconds, 0-300' }).min(0).max(300, { error: 'must be at most 300 seconds' }).optional(),
  })
  .strict();
type Params = z.infer<typeof crashLoopParameters>;

/** Shows a DATABASE_URL-like value with its password masked; other values only as "set". */
function shownValue(value: string): string {
  try {
    return maskUrl(value);
  } catch {
    return '(set; not a URL)';
  }
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
    return {
      backend: { container: backend(), state: info.state, health: info.health, restartCount: info.restartCount, exitCode: info.exitCode, restarting: info.state === 'restarting' },
      postgres: 'error' in db ? { container: postgres(), error: db.error } : { container: postgres(), state: db.state, health: db.health },
      databaseUrl: env.__error ? { error: env.__error } : url ? { set: true, value: shownValue(url) } : { set: false, note: 'DATABASE_URL is not set in the backend container\'s environment: fix the environment file (.env.production) and recreate the container' },
      logs,
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
          await sleep(pause(ctx.parameters) * 1000, undefined, { signal: ctx.signal });
          await docker.startContainer(backend(), { timeoutMs: 30_000 });
          return { container: backend(), stopped: true, started: true, pauseSeconds: pause(ctx.parameters) };
        },
      },
      {
        id: 'watch',
        title: 'Watch until healthy, or escalate with the last 200 log lines',
        timeoutMs: 3_700_000,
        plan: async (ctx) => ({ until: 'running and healthy, health URL 2xx', deadlineSeconds: deadline(ctx.parameters), healthUrl: inventory.urls.backendHealth }),
        run: async (ctx) => {
          try {
            return await waitBackendHealthy(inventory, docker, http, ctx.signal, deadline(ctx.parameters));
          } catch (error) {
            if (ctx.signal.aborted) throw error;
            const [logs, info] = await Promise.all([
              docker.tailLogs(backend(), 200, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]),
              docker.inspectContainer(backend(), CALL).catch(() => null),
            ]);
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
