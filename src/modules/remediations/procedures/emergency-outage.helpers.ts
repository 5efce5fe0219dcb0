/**
 * The parameters of emergency.outage and what its steps share: the stack's services by tier,
 * waiting for them to be up, starting whatever is down, escalating.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Inventory } from '../../../config/inventory.schema';
import { ContainerInfo, DockerPort } from '../../../integrations/contracts';
import { EscalationError, StepContext } from '../../../procedures/procedure';
import { flag, wholeNumber } from '../../../procedures/parameters';
import { RemediationDeps } from '../remediation-deps';
import { notifyRecorded } from './common';
import { escalationOf } from '../../../config/escalation';

export const CALL = { timeoutMs: 10_000 };

export const outageParameters = z
  .object({
    restartSeconds: wholeNumber('seconds', 5, 3600, 90).optional(),
    recoverySeconds: wholeNumber('seconds', 5, 3600, 120).optional(),
    /** Skip the plain restart and recreate at once (when a restart is known not to help). */
    recreate: flag().default(false),
  })
  .strict();
export type OutageParameters = z.infer<typeof outageParameters>;

/** What the steps use. */
export type OutageDeps = Pick<RemediationDeps, 'inventory' | 'docker' | 'notifier' | 'checklist' | 'host'>;

export type Service = Inventory['stack']['services'][number];

/** Up = running, and healthy when the inventory says it has a healthcheck. */
export function isUp(service: Service, info: ContainerInfo | undefined): boolean {
  return Boolean(info && info.state === 'running' && (!service.healthcheck || info.health === 'healthy'));
}

export async function states(docker: DockerPort, inventory: Inventory): Promise<Map<string, ContainerInfo>> {
  const list = await docker.listProjectContainers(inventory.stack.composeProject, CALL);
  return new Map(list.filter((c) => !c.oneOff).map((c) => [c.name, c]));
}

/** Polls until every given service is up, or the deadline; returns those still down. */
export async function waitUp(
  { docker, inventory }: Pick<OutageDeps, 'docker' | 'inventory'>,
  services: Service[],
  deadline: number,
  signal: AbortSignal,
): Promise<{ down: { service: string; state: string }[] }> {
  let down: { service: string; state: string }[] = services.map((s) => ({ service: s.name, state: 'not checked' }));
  while (Date.now() < deadline) {
    if (signal.aborted) throw new Error('cancelled');
    const now = await states(docker, inventory).catch(() => new Map<string, ContainerInfo>());
    down = services
      .filter((s) => !isUp(s, now.get(s.container)))
      .map((s) => {
        const c = now.get(s.container);
        return { service: s.name, state: c ? `${c.state}/${c.health}` : 'missing' };
      });
    if (!down.length) return { down };
    await sleep(500);
  }
  return { down };
}

/** Services grouped by tier, lowest first (database and cache, backend, proxy last). */
export function tiers(inventory: Inventory): Service[][] {
  const byTier = new Map<number, Service[]>();
  for (const s of inventory.stack.services) byTier.set(s.tier, [...(byTier.get(s.tier) ?? []), s]);
  return [...byTier.entries()].sort((a, b) => a[0] - b[0]).map(([, list]) => list);
}

export const restartSecondsOf = (inventory: Inventory, p: OutageParameters) =>
  p.restartSeconds ?? inventory.remediations.outageRestartSeconds;
export const recoverySecondsOf = (inventory: Inventory, p: OutageParameters) =>
  p.recoverySeconds ?? inventory.remediations.outageRecoverySeconds;

/** Best effort: every inventory container that exists and is not running is started (never left down). */
export async function startAll({ docker, inventory }: Pick<OutageDeps, 'docker' | 'inventory'>): Promise<string[]> {
  const now = await states(docker, inventory).catch(() => new Map<string, ContainerInfo>());
  const started: string[] = [];
  for (const tier of tiers(inventory)) {
    await Promise.all(
      tier
        .filter((s) => now.has(s.container) && now.get(s.container)!.state !== 'running')
        .map((s) =>
          docker.startContainer(s.container, { timeoutMs: 30_000 }).then(
            () => void started.push(s.name),
            () => undefined,
          ),
        ),
    );
  }
  return started;
}

/** Escalation: the emergency channel hears it (runbook step 4: escalate, notify users of the ETA). */
export async function escalate(
  { inventory, notifier }: Pick<OutageDeps, 'inventory' | 'notifier'>,
  runId: string,
  message: string,
  details: Record<string, unknown>,
): Promise<never> {
  const p1 = escalationOf(inventory, 'P1', 'system-down');
  const notified = await notifyRecorded(notifier, {
    audience: 'emergency',
    subject: `ERP outage not recovered: escalated (P1) to ${p1.contacts.join(', ')}`,
    text: `emergency.outage run ${runId} could not recover the system: ${message}. Escalated to ${p1.contacts.join(', ')}.`,
  });
  throw new EscalationError(message, { ...details, ...notified }, 'P1', 'system-down');
}

export const audienceOf = (inventory: Inventory) => ({
  chat: inventory.notifications.emergencyChannel,
  email: [inventory.notifications.email, inventory.notifications.managementEmail],
});

/**
 * When the services came back: the end of the recreate when it recreated them, else the end
 * of the restart when that brought everything back (undefined before either ended).
 */
export function recoveredAt(ctx: Pick<StepContext<unknown>, 'earlier'>): Date | undefined {
  const step = (id: string) => ctx.earlier.find((s) => s.id === id);
  const recreate = step('recreate');
  if (recreate?.output.recreated === true) return recreate.finishedAt;
  const restart = step('restart');
  return restart?.output.recovered === true ? restart.finishedAt : undefined;
}
