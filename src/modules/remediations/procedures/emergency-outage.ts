import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Inventory } from '../../../config/inventory.schema';
import { ContainerInfo, DockerPort } from '../../../integrations/contracts';
import { EscalationError, ProcedureDefinition } from '../../../procedures/procedure';
import { StepEntity } from '../../../procedures/run.entity';
import { RemediationDeps } from '../remediation-deps';
import { clockTime, hostResources, notifyRecorded, requesterOf } from './common';

const CALL = { timeoutMs: 10_000 };

export const outageParameters = z
  .object({
    restartSeconds: z
      .number({ error: 'must be a whole number of seconds, 5-3600' })
      .int({ error: 'must be a whole number of seconds, 5-3600' })
      .min(5)
      .max(3600, { error: 'must be at most 3600 seconds' })
      .optional(),
    recoverySeconds: z
      .number({ error: 'must be a whole number of seconds, 5-3600' })
      .int({ error: 'must be a whole number of seconds, 5-3600' })
      .min(5)
      .max(3600, { error: 'must be at most 3600 seconds' })
      .optional(),
    /** Skip the plain restart and recreate at once (when a restart is known not to help). */
    recreate: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .strict();
type Params = z.infer<typeof outageParameters>;

type Service = Inventory['stack']['services'][number];

/** Up = running, and healthy when the inventory says it has a healthcheck. */
function isUp(service: Service, info: ContainerInfo | undefined): boolean {
  return Boolean(info && info.state === 'running' && (!service.healthcheck || info.health === 'healthy'));
}

async function states(docker: DockerPort, inventory: Inventory): Promise<Map<string, ContainerInfo>> {
  const list = await docker.listProjectContainers(inventory.stack.composeProject, CALL);
  return new Map(list.filter((c) => !c.oneOff).map((c) => [c.name, c]));
}

/** Polls until every given service is up, or the deadline; returns those still down. */
async function waitUp(
  docker: DockerPort,
  inventory: Inventory,
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
      .map((s) => ({
        service: s.name,
        state: now.get(s.container) ? `${now.get(s.container)!.state}/${now.get(s.container)!.health}` : 'missing',
      }));
    if (!down.length) return { down };
    await sleep(500);
  }
  return { down };
}

/** Services grouped by tier, lowest first (database and cache, backend, proxy last). */
function tiers(inventory: Inventory): Service[][] {
  const byTier = new Map<number, Service[]>();
  for (const s of inventory.stack.services) byTier.set(s.tier, [...(byTier.get(s.tier) ?? []), s]);
  return [...byTier.entries()].sort((a, b) => a[0] - b[0]).map(([, list]) => list);
}

/** Runbook "Emergency Procedures: System Complete Outage". */
export function outageProcedure({
  inventory,
  docker,
  notifier,
  checklist,
  dataSource,
  clock,
  host,
}: RemediationDeps): ProcedureDefinition<Params> {
  const restartSeconds = (p: Params) => p.restartSeconds ?? inventory.remediations.outageRestartSeconds;
  const recoverySeconds = (p: Params) => p.recoverySeconds ?? inventory.remediations.outageRecoverySeconds;
  /** Per run (all its steps run in one worker): did the restart bring everything back, when did the run start, when did the services come back. */
  const progress = new Map<string, { recovered: boolean; startedAt: Date; recoveredAt?: Date }>();
  /** Best effort: every inventory container that exists and is not running is started (never left down). */
  const startAll = async (): Promise<string[]> => {
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
  };
  /** Escalation: the emergency channel hears it (runbook step 4: escalate, notify users of the ETA). */
  const escalate = async (runId: string, message: string, details: Record<string, unknown>): Promise<never> => {
    const p1 = inventory.escalation.P1;
    const notified = await notifyRecorded(notifier, {
      audience: 'emergency',
      subject: `ERP outage not recovered: escalated (P1) to ${p1.contacts.join(', ')}`,
      text: `emergency.outage run ${runId} could not recover the system: ${message}. Escalated to ${p1.contacts.join(', ')}.`,
    });
    throw new EscalationError(message, { ...details, ...notified });
  };
  const audienceOf = () => ({
    chat: inventory.notifications.emergencyChannel,
    email: [inventory.notifications.email, inventory.notifications.managementEmail],
  });

  const diagnose = async () => {
    const now = await states(docker, inventory);
    const services = inventory.stack.services.map((s) => {
      const c = now.get(s.container);
      return {
        service: s.name,
        container: s.container,
        state: c?.state ?? 'missing',
        health: c?.health ?? 'none',
        restartCount: c?.restartCount ?? 0,
        up: isUp(s, c),
      };
    });
    const down = services.filter((s) => !s.up);
    const logs = Object.fromEntries(
      await Promise.all(
        down
          .filter((s) => s.state !== 'missing')
          .map(
            async (s) =>
              [s.service, await docker.tailLogs(s.container, 50, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`])] as const,
          ),
      ),
    );
    return {
      services,
      down: down.map((s) => s.service),
      logs,
      host: await hostResources(host, [...new Set([...inventory.stack.dataPaths, inventory.backups.directory])], CALL),
    };
  };

  return {
    id: 'emergency.outage',
    title: 'System complete outage: notify, diagnose, restart every service, recreate them in order if needed, verify',
    severity: 'P1',
    domain: 'system',
    parameters: outageParameters,
    locks: () => ['erp:stack', 'erp:backend', 'erp:postgres'],
    requiresApproval: false,
    // Left half way (worker died, run cancelled) during the restart or the recreate: start whatever is down.
    onInterrupted: async (_p, lastStep) => {
      if (lastStep !== 'restart' && lastStep !== 'recreate') return null;
      const started = await startAll();
      return started.length ? `started again: ${started.join(', ')}` : null;
    },
    onEnd: (runId) => void progress.delete(runId),
    steps: [
      {
        id: 'notify',
        title: 'Notify the stakeholders: "System outage detected at HH:MM. Investigating..."',
        timeoutMs: 30_000,
        plan: async () => ({ would: 'notify', ...audienceOf() }),
        run: async (ctx) => {
          progress.set(ctx.runId, { recovered: false, startedAt: clock.now() });
          const at = clockTime(clock.now(), inventory.timezone);
          return notifyRecorded(
            notifier,
            {
              audience: 'emergency',
              subject: `ERP system outage detected at ${at}`,
              text: `System outage detected at ${at}. Investigating... (emergency.outage run ${ctx.runId}, requested by ${await requesterOf(dataSource, ctx.runId)})`,
            },
            ctx.signal,
          );
        },
      },
      {
        id: 'diagnose',
        title: 'Diagnose: container states, logs of the services that are down, host resources',
        timeoutMs: 60_000,
        plan: () => diagnose(),
        run: () => diagnose(),
      },
      {
        id: 'restart',
        title: 'Restart every service (docker-compose restart) and wait for all to be up',
        timeoutMs: 3_700_000,
        plan: async (ctx) => ({
          restart: ctx.parameters.recreate ? [] : tiers(inventory).map((t) => t.map((s) => s.container)),
          deadlineSeconds: restartSeconds(ctx.parameters),
        }),
        run: async (ctx) => {
          if (ctx.parameters.recreate) return { skipped: 'recreate: true asked for recreating at once' };
          const deadline = Date.now() + restartSeconds(ctx.parameters) * 1000;
          const errors: { service: string; error: string }[] = [];
          // Tier by tier (database and cache first), the services of one tier at once.
          for (const tier of tiers(inventory)) {
            await Promise.all(
              tier.map((s) =>
                docker
                  .restartContainer(s.container, { timeoutMs: 60_000, graceSeconds: 10 })
                  .catch((e: Error) => void errors.push({ service: s.name, error: e.message })),
              ),
            );
          }
          const { down } = await waitUp(docker, inventory, inventory.stack.services, deadline, ctx.signal);
          const state = progress.get(ctx.runId);
          if (state) {
            state.recovered = down.length === 0;
            if (state.recovered) state.recoveredAt = clock.now();
          }
          return { recovered: down.length === 0, down, errors };
        },
      },
      {
        id: 'recreate',
        title: 'If the restart did not bring everything back: recreate the services in dependency order (down, then up)',
        timeoutMs: 3_700_000,
        plan: async () => ({
          onlyIf: 'the restart did not bring every service up within its deadline',
          down: [...tiers(inventory)].reverse().map((t) => t.map((s) => s.container)),
          up: tiers(inventory).map((t) => t.map((s) => s.container)),
        }),
        run: async (ctx) => {
          if (progress.get(ctx.runId)?.recovered) return { recreated: false, reason: 'every service came back with the restart' };
          const deadline = Date.now() + recoverySeconds(ctx.parameters) * 1000;
          const existing = await states(docker, inventory);
          const missing = inventory.stack.services.filter((s) => !existing.has(s.container)).map((s) => s.name);
          const timeline: { tier: string[]; upAfterMs: number; down: { service: string; state: string }[] }[] = [];
          try {
            // down: dependents first (proxy, then backend, then database and cache).
            for (const tier of [...tiers(inventory)].reverse()) {
              await Promise.all(
                tier
                  .filter((s) => existing.has(s.container))
                  .map((s) => docker.stopContainer(s.container, { timeoutMs: 60_000, graceSeconds: 10 }).catch(() => undefined)),
              );
            }
            // up: each tier created, started and up before the next one.
            const started = Date.now();
            for (const tier of tiers(inventory)) {
              const present = tier.filter((s) => existing.has(s.container));
              await Promise.all(present.map((s) => docker.recreateContainer(s.container, { timeoutMs: 120_000, graceSeconds: 10 })));
              const { down } = await waitUp(docker, inventory, present, deadline, ctx.signal);
              timeline.push({ tier: present.map((s) => s.name), upAfterMs: Date.now() - started, down });
              if (down.length) {
                return await escalate(
                  ctx.runId,
                  `recreating did not bring ${down.map((d) => d.service).join(', ')} up within ${recoverySeconds(ctx.parameters)} s: escalate to the Senior Developer and prepare a rollback`,
                  { timeline, down, missing },
                );
              }
            }
          } catch (error) {
            if (error instanceof EscalationError) throw error;
            // Never leave the stack stopped half way: start whatever exists, then escalate (or stop, when cancelled).
            const restarted = await startAll();
            if (ctx.signal.aborted) throw error;
            return await escalate(
              ctx.runId,
              `recreating the services failed: ${(error as Error).message}; escalate to the Senior Developer and prepare a rollback`,
              { timeline, restarted, missing },
            );
          }
          if (missing.length) {
            return await escalate(
              ctx.runId,
              `the containers of ${missing.join(', ')} do not exist: they cannot be recreated without their compose definition (docker-compose up -d ${missing.join(' ')})`,
              { timeline, missing },
            );
          }
          const state = progress.get(ctx.runId);
          if (state) state.recoveredAt = clock.now();
          return { recreated: true, timeline };
        },
      },
      {
        id: 'verify',
        title: 'Verify with the daily checklist (log lines from before the recovery do not count)',
        timeoutMs: 3_700_000,
        plan: async (ctx) => ({ checklist: 'every item pass or warn', deadlineSeconds: recoverySeconds(ctx.parameters) }),
        run: async (ctx) => {
          // Lines logged while the services went down and came back are the outage, not a failure of the recovery.
          const since = progress.get(ctx.runId)?.recoveredAt ?? clock.now();
          const deadline = Date.now() + recoverySeconds(ctx.parameters) * 1000;
          const by = await requesterOf(dataSource, ctx.runId);
          let attempts = 0;
          const waitedFor = new Set<string>();
          for (;;) {
            attempts++;
            const run = await checklist.run('manual', by, null, { since });
            const failing = run.items.filter((i) => i.verdict === 'fail' || i.verdict === 'unknown');
            if (!failing.length) return { checklistRunId: run.id, verdict: run.verdict, attempts, waitedFor: [...waitedFor] };
            for (const item of failing)
              for (const c of item.checks) if (c.verdict === 'fail' || c.verdict === 'unknown') waitedFor.add(c.check);
            if (Date.now() > deadline || ctx.signal.aborted) {
              return await escalate(
                ctx.runId,
                `the checklist is still not green after the recovery: ${failing.map((i) => `${i.item} (${i.verdict})`).join(', ')}`,
                {
                  checklistRunId: run.id,
                  failing: failing.map((i) => ({
                    item: i.item,
                    verdict: i.verdict,
                    nextStep: i.nextStep,
                    checks: i.checks.filter((c) => c.verdict !== 'pass').map((c) => ({ check: c.check, observed: c.observed })),
                  })),
                },
              );
            }
            await sleep(3000, undefined, { signal: ctx.signal }).catch(() => undefined);
          }
        },
      },
      {
        id: 'report',
        title: 'Report the timeline and notify: recovered',
        timeoutMs: 30_000,
        plan: async () => ({ would: 'notify the recovery', ...audienceOf() }),
        run: async (ctx) => {
          const state = progress.get(ctx.runId);
          progress.delete(ctx.runId);
          const steps = await dataSource.getRepository(StepEntity).find({ where: { runId: ctx.runId }, order: { position: 'ASC' } });
          const timeline = steps.map((s) => ({
            step: s.stepId,
            status: s.status,
            startedAt: s.startedAt?.toISOString() ?? null,
            finishedAt: s.finishedAt?.toISOString() ?? null,
          }));
          const minutes = state ? Math.round((clock.now().getTime() - state.startedAt.getTime()) / 600) / 100 : null;
          const at = clockTime(clock.now(), inventory.timezone);
          const notified = await notifyRecorded(
            notifier,
            {
              audience: 'emergency',
              subject: `ERP system recovered at ${at}`,
              text: `The ERP system is up again at ${at}${minutes !== null ? ` after ${minutes} min` : ''} (emergency.outage run ${ctx.runId}). Root cause analysis follows.`,
            },
            ctx.signal,
          );
          return { recoveredInMinutes: minutes, timeline, ...notified };
        },
      },
    ],
  };
}
