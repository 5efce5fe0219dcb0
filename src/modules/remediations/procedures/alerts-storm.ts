/**
 * Runbook "Issue 5: Alert Storm": count and group the firing alerts, silence the noisy group
 * for a while (Alertmanager API v2, not the runbook's removed v1 call), and remove the
 * silence after the fix (alerts.unsilence). The parameters and their rules (durations,
 * matchers, levels) are in alerts-storm.parameters.ts.
 */
import { formatMatcher } from '../../../integrations/alertmanager/alertmanager';
import { AmAlert, AmMatcher } from '../../../integrations/contracts';
import { defineProcedure, defineStep, ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { RemediationDeps } from '../remediation-deps';
import {
  alertmanagerRefusal,
  durationMinutes,
  durationText,
  StormParameters,
  stormParameters,
  stormSeverity,
  UnsilenceParameters,
  unsilenceParameters,
} from './alerts-storm.parameters';

export * from './alerts-storm.parameters';

const CALL_MS = 10_000;
/** How long verify waits for Alertmanager to show the silence's effect. */
const SETTLE_MS = 10_000;
/** Alerts listed with their labels in a plan or output (all are counted; fingerprints up to MAX_FINGERPRINTS). */
const DETAIL_ALERTS = 50;
const MAX_FINGERPRINTS = 1000;
export const SILENCE_LOCK = 'alertmanager:silences';

/** What the steps use: Alertmanager, the table of the silences the control plane made, the inventory. */
export type StormDeps = Pick<RemediationDeps, 'alertmanager' | 'silences' | 'inventory'>;

const call = (ctx: StepContext<unknown>) => ({ timeoutMs: CALL_MS, signal: ctx.signal });
const alertmanagerUrl = ({ inventory }: Pick<StormDeps, 'inventory'>) => inventory.urls.alertmanager.replace(/\/+$/, '');

function brief(alert: AmAlert) {
  return { fingerprint: alert.fingerprint, alertname: alert.labels.alertname ?? null, state: alert.status.state, labels: alert.labels };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Firing alerts grouped by alertname (largest first), with how many of each the matchers select. */
export function groupAlerts(all: AmAlert[], matched: AmAlert[]) {
  const hit = new Set(matched.map((a) => a.fingerprint));
  const groups = new Map<string, { alertname: string; count: number; active: number; matched: number }>();
  for (const alert of all) {
    const name = alert.labels.alertname ?? '';
    const group = groups.get(name) ?? { alertname: name, count: 0, active: 0, matched: 0 };
    group.count++;
    if (alert.status.state === 'active') group.active++;
    if (hit.has(alert.fingerprint)) group.matched++;
    groups.set(name, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.alertname.localeCompare(b.alertname));
}

/** What is firing, grouped by alertname, and which of it the matchers select. */
async function survey({ alertmanager }: Pick<StormDeps, 'alertmanager'>, matchers: AmMatcher[], ctx: StepContext<unknown>) {
  const all = await alertmanager.alerts({}, call(ctx));
  const matched = matchers.length ? await alertmanager.alerts({ filter: matchers }, call(ctx)) : all;
  return {
    all,
    matched,
    summary: {
      firing: all.length,
      active: all.filter((a) => a.status.state === 'active').length,
      groups: groupAlerts(all, matched),
      matchers: matchers.map(formatMatcher),
      wouldSilence: matched.length,
      alerts: matched.slice(0, DETAIL_ALERTS).map(brief),
      moreAlerts: Math.max(0, matched.length - DETAIL_ALERTS),
      fingerprints: matched.slice(0, MAX_FINGERPRINTS).map((a) => a.fingerprint),
    },
  };
}

/** The silence's comment: it starts with the run, so a silence can be traced to its run. */
export function silenceComment(runId: string, p: StormParameters, minutes: number): string {
  return `erp-ops run ${runId}: ${p.comment?.trim() || `alert storm: ${p.matchers.map(formatMatcher).join(', ')} silenced for ${durationText(minutes)}`}`;
}

/** The silence a run would create: its window, author and comment (the plan and the run agree). */
export function silenceOf(ctx: StepContext<StormParameters>) {
  const p = ctx.parameters;
  const minutes = durationMinutes(p.duration)!;
  const startsAt = ctx.now();
  const endsAt = new Date(startsAt.getTime() + minutes * 60_000);
  return { minutes, startsAt, endsAt, createdBy: ctx.requester.username, comment: silenceComment(ctx.runId, p, minutes) };
}

export const countStep = (deps: Pick<StormDeps, 'alertmanager'>) =>
  defineStep<StormParameters>({
    id: 'count',
    title: 'Count the firing alerts, group them by alertname, and list the ones the matchers select',
    timeoutMs: 30_000,
    plan: async (ctx) => (await survey(deps, ctx.parameters.matchers, ctx)).summary,
    run: async (ctx) => (await survey(deps, ctx.parameters.matchers, ctx)).summary,
  });

/** The silence's plan: what would be POSTed to Alertmanager, at which level, or why it refuses. */
export const planSilence = (deps: Pick<StormDeps, 'inventory'>) => async (ctx: StepContext<StormParameters>) => {
  const p = ctx.parameters;
  const s = silenceOf(ctx);
  return {
    action: `POST ${alertmanagerUrl(deps)}/api/v2/silences`,
    matchers: p.matchers.map(formatMatcher),
    startsAt: s.startsAt.toISOString(),
    endsAt: s.endsAt.toISOString(),
    duration: durationText(s.minutes),
    createdBy: s.createdBy,
    comment: s.comment,
    level: stormSeverity(p),
    refusedBecause: alertmanagerRefusal(p.matchers),
  };
};

/** Creates the silence in Alertmanager and records it (so alerts.unsilence can find it by run). */
async function createSilence(deps: StormDeps, ctx: StepContext<StormParameters>) {
  const p = ctx.parameters;
  const refusal = alertmanagerRefusal(p.matchers);
  if (refusal) throw new Error(refusal);
  const { matched } = await survey(deps, p.matchers, ctx);
  const { startsAt, endsAt, createdBy, comment } = silenceOf(ctx);
  const silenceId = await deps.alertmanager.createSilence(
    { matchers: p.matchers, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), createdBy, comment },
    call(ctx),
  );
  try {
    await deps.silences.record({
      silenceId,
      runId: ctx.runId,
      createdBy,
      matchers: p.matchers,
      comment,
      startsAt,
      endsAt,
      createdAt: startsAt,
      expiredAt: null,
      expiredByRun: null,
    });
  } catch (error) {
    throw new Error(
      `silence ${silenceId} was created in Alertmanager but could not be recorded (${(error as Error).message}); expire it with alerts.unsilence {"silenceId": "${silenceId}"} if it is not wanted`,
    );
  }
  return {
    silenceId,
    startsAt: startsAt.toISOString(),
    endsAt: endsAt.toISOString(),
    createdBy,
    comment,
    matchers: p.matchers.map(formatMatcher),
    silenced: matched.length,
    fingerprints: matched.slice(0, MAX_FINGERPRINTS).map((a) => a.fingerprint),
  };
}

/** Waits (up to SETTLE_MS) until the silence is active and every matching alert is suppressed by it. */
async function checkSuppressed({ alertmanager }: Pick<StormDeps, 'alertmanager'>, ctx: StepContext<StormParameters>, silenceId: string) {
  const started = Date.now();
  let problem = '';
  for (;;) {
    const silence = await alertmanager.silence(silenceId, call(ctx));
    const matched = ctx.parameters.matchers.length ? await alertmanager.alerts({ filter: ctx.parameters.matchers }, call(ctx)) : [];
    const loud = matched.filter((a) => a.status.state !== 'suppressed' || !a.status.silencedBy.includes(silenceId));
    if (silence.status.state === 'active' && loud.length === 0) {
      return { silenceId, state: silence.status.state, suppressed: matched.length, waitedMs: Date.now() - started };
    }
    problem =
      silence.status.state !== 'active'
        ? `silence ${silenceId} is ${silence.status.state}, not active`
        : `${loud.length} of ${matched.length} matching alert(s) are not suppressed by silence ${silenceId}: ${loud
            .slice(0, 10)
            .map((a) => `${a.labels.alertname ?? a.fingerprint} (${a.fingerprint}, ${a.status.state})`)
            .join(', ')}`;
    if (Date.now() - started >= SETTLE_MS) break;
    await sleep(250, ctx.signal);
  }
  throw new Error(
    `after ${SETTLE_MS / 1000} s ${problem}; the silence stays in place (alerts.unsilence {"silenceId": "${silenceId}"} removes it)`,
  );
}

export const silenceStep = (deps: StormDeps) =>
  defineStep<StormParameters>({
    id: 'silence',
    title: 'Create the silence in Alertmanager (POST /api/v2/silences) and check the alerts are suppressed',
    timeoutMs: 60_000,
    plan: planSilence(deps),
    run: (ctx) => createSilence(deps, ctx),
    verify: (ctx, output) => checkSuppressed(deps, ctx, String(output.silenceId)),
  });

/** The silence an unsilence run acts on: given, or the one the storm run created. */
async function silenceToExpire(deps: Pick<StormDeps, 'silences'>, p: UnsilenceParameters) {
  if (p.silenceId) return { silenceId: p.silenceId, record: await deps.silences.bySilenceId(p.silenceId) };
  const record = await deps.silences.latestOfRun(p.runId!);
  if (!record)
    throw new Error(`run ${p.runId} created no silence (only a succeeded alerts.storm run does; GET /api/v1/alerts lists the silences)`);
  return { silenceId: record.silenceId, record };
}

/** Waits (up to SETTLE_MS) until Alertmanager shows the silence expired. */
async function checkExpired({ alertmanager }: Pick<StormDeps, 'alertmanager'>, ctx: StepContext<UnsilenceParameters>, silenceId: string) {
  const started = Date.now();
  for (;;) {
    const silence = await alertmanager.silence(silenceId, call(ctx));
    if (silence.status.state === 'expired') return { silenceId, state: 'expired', endsAt: silence.endsAt };
    if (Date.now() - started >= SETTLE_MS)
      throw new Error(`silence ${silenceId} is still ${silence.status.state} ${SETTLE_MS / 1000} s after it was expired`);
    await sleep(250, ctx.signal);
  }
}

export const expireStep = (deps: StormDeps) =>
  defineStep<UnsilenceParameters>({
    id: 'expire',
    title: 'Expire the silence and check it is expired',
    timeoutMs: 60_000,
    plan: async (ctx) => {
      const { silenceId, record } = await silenceToExpire(deps, ctx.parameters);
      const silence = await deps.alertmanager.silence(silenceId, call(ctx));
      return {
        action: `DELETE ${alertmanagerUrl(deps)}/api/v2/silence/${silenceId}`,
        silenceId,
        state: silence.status.state,
        matchers: silence.matchers.map(formatMatcher),
        startsAt: silence.startsAt,
        endsAt: silence.endsAt,
        createdBy: silence.createdBy,
        comment: silence.comment,
        createdByControlPlane: record !== null,
        stormRunId: record?.runId ?? null,
        alreadyExpired: silence.status.state === 'expired',
      };
    },
    run: async (ctx) => {
      const { silenceId } = await silenceToExpire(deps, ctx.parameters);
      const before = await deps.alertmanager.silence(silenceId, call(ctx));
      if (before.status.state !== 'expired') await deps.alertmanager.expireSilence(silenceId, call(ctx));
      const now = ctx.now();
      await deps.silences.markExpired(silenceId, ctx.runId, now);
      const alreadyExpired = before.status.state === 'expired';
      return { silenceId, previousState: before.status.state, alreadyExpired, expiredAt: now.toISOString() };
    },
    verify: (ctx, output) => checkExpired(deps, ctx, String(output.silenceId)),
  });

/** alerts.storm and alerts.unsilence. */
export function alertsStormProcedures(deps: RemediationDeps): ProcedureDefinition[] {
  const storm = defineProcedure<StormParameters>({
    id: 'alerts.storm',
    title: 'Alert storm: count and group the firing alerts, silence the noisy group for a while (runbook Issue 5)',
    severity: 'P3',
    severityFor: stormSeverity,
    domain: 'system',
    parameters: stormParameters,
    locks: () => [SILENCE_LOCK],
    requiresApproval: false,
    steps: [countStep(deps), silenceStep(deps)],
  });
  const unsilence = defineProcedure<UnsilenceParameters>({
    id: 'alerts.unsilence',
    title: 'Remove a silence after the fix (expire it in Alertmanager: DELETE /api/v2/silence/{id})',
    severity: 'P3',
    domain: 'system',
    parameters: unsilenceParameters,
    locks: () => [SILENCE_LOCK],
    requiresApproval: false,
    steps: [expireStep(deps)],
  });
  return [storm, unsilence];
}
