/**
 * Runbook "Emergency Procedures: System Complete Outage": notify, diagnose, restart every
 * service, recreate them in dependency order when the restart is not enough, verify with
 * the checklist, report the timeline. The steps learn from each other through the step
 * context (the restart's outcome, when the run started, when the services came back).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineProcedure, defineStep, EarlierStep, EscalationError, ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { RemediationDeps } from '../remediation-deps';
import { clockTime, hostResources, notifyRecorded } from './common';
import {
  audienceOf,
  CALL,
  escalate,
  isUp,
  OutageDeps,
  OutageParameters,
  outageParameters,
  recoveredAt,
  recoverySecondsOf,
  restartSecondsOf,
  startAll,
  states,
  tiers,
  waitUp,
} from './emergency-outage.helpers';

export { outageParameters, recoveredAt } from './emergency-outage.helpers';
export type { OutageParameters } from './emergency-outage.helpers';

export const notifyOutageStep = ({ inventory, notifier }: Pick<OutageDeps, 'inventory' | 'notifier'>) =>
  defineStep<OutageParameters>({
    id: 'notify',
    title: 'Notify the stakeholders: "System outage detected at HH:MM. Investigating..."',
    timeoutMs: 30_000,
    plan: async () => ({ would: 'notify', ...audienceOf(inventory) }),
    run: async (ctx) => {
      const at = clockTime(ctx.now(), inventory.timezone);
      return notifyRecorded(
        notifier,
        {
          audience: 'emergency',
          subject: `ERP system outage detected at ${at}`,
          text: `System outage detected at ${at}. Investigating... (emergency.outage run ${ctx.runId}, requested by ${ctx.requester.username})`,
        },
        ctx.signal,
      );
    },
  });

/** Container states, logs of the services that are down, host resources. */
async function diagnose({ inventory, docker, host }: Pick<OutageDeps, 'inventory' | 'docker' | 'host'>) {
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
  const tail = async (container: string) => docker.tailLogs(container, 50, CALL).catch((e: Error) => [`(logs unavailable: ${e.message})`]);
  const logs = Object.fromEntries(
    await Promise.all(down.filter((s) => s.state !== 'missing').map(async (s) => [s.service, await tail(s.container)] as const)),
  );
  return {
    services,
    down: down.map((s) => s.service),
    logs,
    host: await hostResources(host, [...new Set([...inventory.stack.dataPaths, inventory.backups.directory])], CALL),
  };
}

export const diagnoseStep = (deps: Pick<OutageDeps, 'inventory' | 'docker' | 'host'>) =>
  defineStep<OutageParameters>({
    id: 'diagnose',
    title: 'Diagnose: container states, logs of the services that are down, host resources',
    timeoutMs: 60_000,
    plan: () => diagnose(deps),
    run: () => diagnose(deps),
  });

export const restartStep = (deps: Pick<OutageDeps, 'inventory' | 'docker'>) =>
  defineStep<OutageParameters>({
    id: 'restart',
    title: 'Restart every service (docker-compose restart) and wait for all to be up',
    timeoutMs: 3_700_000,
    plan: async (ctx) => ({
      restart: ctx.parameters.recreate ? [] : tiers(deps.inventory).map((t) => t.map((s) => s.container)),
      deadlineSeconds: restartSecondsOf(deps.inventory, ctx.parameters),
    }),
    run: async (ctx) => {
      if (ctx.parameters.recreate) return { skipped: 'recreate: true asked for recreating at once' };
      const deadline = Date.now() + restartSecondsOf(deps.inventory, ctx.parameters) * 1000;
      const errors: { service: string; error: string }[] = [];
      // Tier by tier (database and cache first), the services of one tier at once.
      for (const tier of tiers(deps.inventory)) {
        await Promise.all(
          tier.map((s) =>
            deps.docker
              .restartContainer(s.container, { timeoutMs: 60_000, graceSeconds: 10 })
              .catch((e: Error) => void errors.push({ service: s.name, error: e.message })),
          ),
        );
      }
      const { down } = await waitUp(deps, deps.inventory.stack.services, deadline, ctx.signal);
      return { recovered: down.length === 0, down, errors };
    },
  });

type Timeline = { tier: string[]; upAfterMs: number; down: { service: string; state: string }[] }[];

/** Stops the existing services (dependents first), then creates and starts them tier by tier, each up before the next. */
async function recreateTiers(
  deps: OutageDeps,
  ctx: StepContext<OutageParameters>,
  existing: Map<string, unknown>,
  timeline: Timeline,
  missing: string[],
): Promise<void> {
  const { inventory, docker } = deps;
  const deadline = Date.now() + recoverySecondsOf(inventory, ctx.parameters) * 1000;
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
    const { down } = await waitUp(deps, present, deadline, ctx.signal);
    timeline.push({ tier: present.map((s) => s.name), upAfterMs: Date.now() - started, down });
    if (down.length) {
      await escalate(
        deps,
        ctx.runId,
        `recreating did not bring ${down.map((d) => d.service).join(', ')} up within ${recoverySecondsOf(inventory, ctx.parameters)} s: escalate to the Senior Developer and prepare a rollback`,
        { timeline, down, missing },
      );
    }
  }
}

export const recreateStep = (deps: OutageDeps) =>
  defineStep<OutageParameters>({
    id: 'recreate',
    title: 'If the restart did not bring everything back: recreate the services in dependency order (down, then up)',
    timeoutMs: 3_700_000,
    plan: async () => ({
      onlyIf: 'the restart did not bring every service up within its deadline',
      down: [...tiers(deps.inventory)].reverse().map((t) => t.map((s) => s.container)),
      up: tiers(deps.inventory).map((t) => t.map((s) => s.container)),
    }),
    run: async (ctx) => {
      if (ctx.outputOf('restart').recovered === true) return { recreated: false, reason: 'every service came back with the restart' };
      const existing = await states(deps.docker, deps.inventory);
      const missing = deps.inventory.stack.services.filter((s) => !existing.has(s.container)).map((s) => s.name);
      const timeline: Timeline = [];
      try {
        await recreateTiers(deps, ctx, existing, timeline, missing);
      } catch (error) {
        if (error instanceof EscalationError) throw error;
        // Never leave the stack stopped half way: start whatever exists, then escalate (or stop, when cancelled).
        const restarted = await startAll(deps);
        if (ctx.signal.aborted) throw error;
        return await escalate(
          deps,
          ctx.runId,
          `recreating the services failed: ${(error as Error).message}; escalate to the Senior Developer and prepare a rollback`,
          { timeline, restarted, missing },
        );
      }
      if (missing.length) {
        return await escalate(
          deps,
          ctx.runId,
          `the containers of ${missing.join(', ')} do not exist: they cannot be recreated without their compose definition (docker-compose up -d ${missing.join(' ')})`,
          { timeline, missing },
        );
      }
      return { recreated: true, timeline };
    },
  });

export const verifyRecoveryStep = (deps: OutageDeps) =>
  defineStep<OutageParameters>({
    id: 'verify',
    title: 'Verify with the daily checklist (log lines from before the recovery do not count)',
    timeoutMs: 3_700_000,
    plan: async (ctx) => ({ checklist: 'every item pass or warn', deadlineSeconds: recoverySecondsOf(deps.inventory, ctx.parameters) }),
    run: async (ctx) => {
      // Lines logged while the services went down and came back are the outage, not a failure of the recovery.
      const since = recoveredAt(ctx) ?? ctx.now();
      const deadline = Date.now() + recoverySecondsOf(deps.inventory, ctx.parameters) * 1000;
      let attempts = 0;
      const waitedFor = new Set<string>();
      for (;;) {
        attempts++;
        // The backups item is left out: an old backup is no reason to call the stack still down.
        const run = await deps.checklist.run('manual', ctx.requester.username, null, { since, skip: ['backups'] });
        const failing = run.items.filter((i) => i.verdict === 'fail' || i.verdict === 'unknown');
        if (!failing.length) return { checklistRunId: run.id, verdict: run.verdict, attempts, waitedFor: [...waitedFor] };
        for (const item of failing)
          for (const c of item.checks) if (c.verdict === 'fail' || c.verdict === 'unknown') waitedFor.add(c.check);
        if (Date.now() > deadline || ctx.signal.aborted) {
          return await escalate(
            deps,
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
  });

/**
 * The run's timeline as the report shows it: every step that ended (all succeeded, or the
 * run would have stopped), then the report itself, running since `now`.
 */
export function outageTimeline(earlier: readonly EarlierStep[], now: Date) {
  return [
    ...earlier.map((s) => ({
      step: s.id,
      status: 'succeeded',
      startedAt: s.startedAt.toISOString(),
      finishedAt: s.finishedAt.toISOString(),
    })),
    { step: 'report', status: 'running', startedAt: now.toISOString(), finishedAt: null },
  ];
}

/** Minutes from the start of the run (its notify step) to `now`, two decimals; null in a dry run. */
export function outageMinutes(earlier: readonly EarlierStep[], now: Date): number | null {
  const first = earlier.find((s) => s.id === 'notify');
  return first ? Math.round((now.getTime() - first.startedAt.getTime()) / 600) / 100 : null;
}

export const reportStep = ({ inventory, notifier }: Pick<OutageDeps, 'inventory' | 'notifier'>) =>
  defineStep<OutageParameters>({
    id: 'report',
    title: 'Report the timeline and notify: recovered',
    timeoutMs: 30_000,
    plan: async () => ({ would: 'notify the recovery', ...audienceOf(inventory) }),
    run: async (ctx) => {
      const now = ctx.now();
      const minutes = outageMinutes(ctx.earlier, now);
      const at = clockTime(now, inventory.timezone);
      const notified = await notifyRecorded(
        notifier,
        {
          audience: 'emergency',
          subject: `ERP system recovered at ${at}`,
          text: `The ERP system is up again at ${at}${minutes !== null ? ` after ${minutes} min` : ''} (emergency.outage run ${ctx.runId}). Root cause analysis follows.`,
        },
        ctx.signal,
      );
      return { recoveredInMinutes: minutes, timeline: outageTimeline(ctx.earlier, now), ...notified };
    },
  });

/** Runbook "Emergency Procedures: System Complete Outage". */
export function outageProcedure(deps: RemediationDeps): ProcedureDefinition<OutageParameters> {
  return defineProcedure<OutageParameters>({
    id: 'emergency.outage',
    title: 'System complete outage: notify, diagnose, restart every service, recreate them in order if needed, verify',
    severity: 'P1',
    situation: 'system-down',
    domain: 'system',
    parameters: outageParameters,
    locks: () => ['erp:stack', 'erp:backend', 'erp:postgres'],
    requiresApproval: false,
    // Left half way (worker died, run cancelled) during the restart or the recreate: start whatever is down.
    onInterrupted: async (_p, lastStep) => {
      if (lastStep !== 'restart' && lastStep !== 'recreate') return null;
      const started = await startAll(deps);
      return started.length ? `started again: ${started.join(', ')}` : null;
    },
    steps: [notifyOutageStep(deps), diagnoseStep(deps), restartStep(deps), recreateStep(deps), verifyRecoveryStep(deps), reportStep(deps)],
  });
}
