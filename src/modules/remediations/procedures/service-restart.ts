/**
 * One service down (say Kibana) is not an outage: restart that one container (the runbook's
 * "docker-compose restart <service>"), watch it until it runs (healthy, where it has a
 * healthcheck; for the backend, its health URL answering too), and escalate with its last log
 * lines when it does not come back. P3 for a service the inventory marks non-critical, P2
 * otherwise. Each step is a named object callable alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Inventory, Severity } from '../../../config/inventory.schema';
import { maskLogLines } from '../../../common/secrets';
import { wholeNumber } from '../../../procedures/parameters';
import { defineProcedure, defineStep, EscalationError, ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { waitBackendHealthy } from '../../../procedures/stack-steps';
import { RemediationDeps } from '../remediation-deps';
import { notifyRecorded } from './common';
import { escalationOf } from '../../../config/escalation';

const CALL = { timeoutMs: 10_000 };

/** The parameters: a service of the inventory (by its compose name), and how long to wait for it. */
export function serviceRestartParameters(inventory: Inventory) {
  const names = inventory.stack.services.map((s) => s.name) as [string, ...string[]];
  return z
    .object({
      service: z.enum(names, { error: `must be a service of the inventory: ${names.join(', ')}` }),
      /** How long the watch waits for the service to run (and be healthy); default 120 s. */
      deadlineSeconds: wholeNumber('seconds', 5, 3600, 120).optional(),
    })
    .strict();
}
export type ServiceRestartParameters = { service: string; deadlineSeconds?: number };
type Ctx = StepContext<ServiceRestartParameters>;

export type ServiceRestartDeps = Pick<RemediationDeps, 'docker' | 'http' | 'notifier'>;

const DEFAULT_DEADLINE_SECONDS = 120;
/** How long a container must stay running (same restart count) to count as back. */
const STABLE_MS = 2000;
const serviceOf = (inventory: Inventory, name: string) => {
  const found = inventory.stack.services.find((s) => s.name === name);
  if (!found) throw new Error(`stack.services has no ${name} service`);
  return found;
};

/** P3 for a service the inventory marks non-critical, P2 otherwise. */
export function restartSeverity(inventory: Inventory, service: string): Severity {
  return inventory.stack.services.find((s) => s.name === service)?.critical === false ? 'P3' : 'P2';
}

export const inspectServiceStep = ({ docker }: Pick<ServiceRestartDeps, 'docker'>) =>
  defineStep<ServiceRestartParameters>({
    id: 'inspect',
    title: 'The service container’s state, health and restart count',
    timeoutMs: 30_000,
    plan: async (ctx) => describe(docker, ctx),
    run: async (ctx) => describe(docker, ctx),
  });

async function describe(docker: ServiceRestartDeps['docker'], ctx: Ctx) {
  const service = serviceOf(ctx.inventory, ctx.parameters.service);
  const info = await docker.inspectContainer(service.container, CALL);
  return {
    service: service.name,
    container: service.container,
    critical: service.critical,
    state: info.state,
    health: info.health,
    restartCount: info.restartCount,
  };
}

export const restartServiceStep = ({ docker }: Pick<ServiceRestartDeps, 'docker'>) =>
  defineStep<ServiceRestartParameters>({
    id: 'restart',
    title: 'Restart the container (docker-compose restart <service>)',
    timeoutMs: 120_000,
    plan: async (ctx) => ({ container: serviceOf(ctx.inventory, ctx.parameters.service).container, restart: true, graceSeconds: 10 }),
    run: async (ctx) => {
      const { container } = serviceOf(ctx.inventory, ctx.parameters.service);
      // A stopped container is started by a restart as well.
      await docker.restartContainer(container, { timeoutMs: 90_000, graceSeconds: 10 });
      return { container, restarted: true };
    },
  });

/** Waits until the container runs (healthy, where it has a healthcheck); the backend's health URL too. */
async function waitRunning(deps: ServiceRestartDeps, ctx: Ctx): Promise<Record<string, unknown>> {
  const service = serviceOf(ctx.inventory, ctx.parameters.service);
  const seconds = ctx.parameters.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS;
  if (service.name === 'backend') return waitBackendHealthy(ctx.inventory, deps.docker, deps.http, ctx.signal, seconds);
  const started = Date.now();
  let last = 'not checked yet';
  while (Date.now() - started < seconds * 1000) {
    if (ctx.signal.aborted) throw new Error(`cancelled while waiting for ${service.container}`);
    try {
      const info = await deps.docker.inspectContainer(service.container, { timeoutMs: 5000 });
      if (info.state === 'running' && (!service.healthcheck || info.health === 'healthy')) {
        // Still running, not restarted, a moment later: a crash loop is briefly "running" too.
        await sleep(STABLE_MS, undefined, { signal: ctx.signal });
        const again = await deps.docker.inspectContainer(service.container, { timeoutMs: 5000 });
        if (again.state === 'running' && again.restartCount === info.restartCount)
          return { container: service.container, state: again.state, health: again.health, waitedMs: Date.now() - started };
        last = `${again.state}/${again.health}, restart count ${again.restartCount} (did not stay up)`;
        continue;
      }
      last = `${info.state}/${info.health}, restart count ${info.restartCount}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${service.container} did not come back within ${seconds} s (${last})`);
}

export const watchServiceStep = (deps: ServiceRestartDeps) =>
  defineStep<ServiceRestartParameters>({
    id: 'watch',
    title: 'Watch until it runs (healthy where it has a healthcheck), or escalate with its last log lines',
    timeoutMs: 3_700_000,
    plan: async (ctx) => ({
      until: serviceOf(ctx.inventory, ctx.parameters.service).healthcheck ? 'running and healthy' : 'running',
      deadlineSeconds: ctx.parameters.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS,
      escalatesTo: escalationLevel(ctx),
    }),
    run: async (ctx) => {
      try {
        return await waitRunning(deps, ctx);
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        throw await escalation(deps, ctx, error as Error);
      }
    },
  });

/** One level above the procedure's own: a service that does not come back is someone else's call. */
function escalationLevel(ctx: Ctx): Severity {
  return restartSeverity(ctx.inventory, ctx.parameters.service) === 'P3' ? 'P2' : 'P1';
}

async function escalation({ docker, notifier }: ServiceRestartDeps, ctx: Ctx, error: Error) {
  const service = serviceOf(ctx.inventory, ctx.parameters.service);
  const level = escalationLevel(ctx);
  const logs = maskLogLines(
    await docker.tailLogs(service.container, 50, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]),
    [],
  );
  // A critical service that does not come back leaves the system down (P1's row); a
  // non-critical one goes to the next level's contacts.
  const situation = level === 'P1' ? 'system-down' : undefined;
  const contacts = escalationOf(ctx.inventory, level, situation).contacts;
  const notified = await notifyRecorded(notifier, {
    audience: level === 'P1' ? 'emergency' : 'support',
    subject: `ERP service ${service.name} did not come back after a restart: escalated (${level}) to ${contacts.join(', ')}`,
    text: `service.restart run ${ctx.runId}: ${error.message}. Last log lines of ${service.container}:\n${logs.slice(-20).join('\n')}`,
  });
  return new EscalationError(
    `${service.container} did not come back: ${error.message}`,
    { container: service.container, logs, ...notified },
    level,
    situation,
  );
}

export function serviceRestartProcedure(
  deps: ServiceRestartDeps & Pick<RemediationDeps, 'inventory'>,
): ProcedureDefinition<ServiceRestartParameters> {
  return defineProcedure<ServiceRestartParameters>({
    id: 'service.restart',
    title: 'Restart one service of the stack, watch it come back, escalate if it does not',
    severity: 'P3',
    severityFor: (p) => restartSeverity(deps.inventory, p.service),
    domain: 'system',
    parameters: serviceRestartParameters(deps.inventory) as unknown as z.ZodType<ServiceRestartParameters>,
    // The service, and the stack (an outage recovery or a log-pipeline repair must not run meanwhile).
    locks: (p) => [`erp:${p.service}`, 'erp:stack'],
    requiresApproval: false,
    // Left stopped by a run that died during the restart: start it again.
    onInterrupted: async (p, lastStep, inventory) => {
      if (lastStep !== 'restart') return null;
      const { container } = serviceOf(inventory, p.service);
      await deps.docker.startContainer(container, { timeoutMs: 30_000 });
      return `the container ${container} was started again`;
    },
    steps: [inspectServiceStep(deps), restartServiceStep(deps), watchServiceStep(deps)],
  });
}
