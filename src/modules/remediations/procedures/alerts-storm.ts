/**
 * Runbook "Issue 5: Alert Storm": count and group the firing alerts, silence the noisy group
 * for a while (Alertmanager API v2, not the runbook's removed v1 call), and remove the
 * silence after the fix (alerts.unsilence).
 *
 * Levels: a silence of up to 30 minutes is P3, longer is P2; matchers that would silence
 * everything (none, or only regex matchers that accept any value, or only negated ones) are P1.
 */
import { DataSource, IsNull } from 'typeorm';
import { z } from 'zod';
import { Severity } from '../../../config/inventory.schema';
import { formatMatcher } from '../../../integrations/alertmanager/alertmanager';
import { AmAlert, AmMatcher } from '../../../integrations/contracts';
import { ProcedureDefinition, StepContext } from '../../../procedures/procedure';
import { RunEntity } from '../../../procedures/run.entity';
import { AlertSilenceEntity } from '../../alerts/alert.entities';
import { RemediationDeps } from '../remediation-deps';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Longest silence: a storm is muted while it is investigated, not forever. */
export const MAX_SILENCE_MINUTES = 24 * 60;
/** Up to this a silence is P3; longer is P2 (the runbook's example is 30 minutes). */
export const P3_SILENCE_MINUTES = 30;
const CALL_MS = 10_000;
/** How long verify waits for Alertmanager to show the silence's effect. */
const SETTLE_MS = 10_000;
/** Alerts listed with their labels in a plan or output (all are counted; fingerprints up to MAX_FINGERPRINTS). */
const DETAIL_ALERTS = 50;
const MAX_FINGERPRINTS = 1000;
export const SILENCE_LOCK = 'alertmanager:silences';

const DURATION_MESSAGE = `must be a duration like 30m, 2h, 1h30m or a number of minutes, from 1 minute to ${MAX_SILENCE_MINUTES / 60}h`;

/** A duration ('30m', '2h', '1h30m', '1d', '45') or a number, in whole minutes; null when it is not one. */
export function durationMinutes(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : null;
  const text = value.trim();
  if (/^\d{1,6}$/.test(text)) return Number(text) > 0 ? Number(text) : null;
  const m = /^(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,6})m)?$/.exec(text);
  if (!m || text === '') return null;
  const minutes = Number(m[1] ?? 0) * 1440 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return minutes > 0 ? minutes : null;
}

/**
 * An Alertmanager (RE2) regex as a JavaScript one, anchored as Alertmanager anchors it.
 * A leading flag group like (?i) becomes a flag; throws when JavaScript cannot compile it.
 */
export function matcherRegex(value: string): RegExp {
  let flags = '';
  let source = value;
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead) {
    for (const f of new Set(lead[1])) if (f !== 'U') flags += f;
    source = source.slice(lead[0].length);
  }
  return new RegExp(`^(?:${source})$`, flags);
}

function matches(m: AmMatcher, value: string): boolean {
  return m.isRegex ? matcherRegex(m.value).test(value) : value === m.value;
}

/**
 * This matcher narrows the selection to alerts carrying a given value: an equality with a
 * non-empty value, or a regex that must start with a literal character (anchored, no
 * alternation, the first character not made optional). Decided from the matcher's text
 * alone: a user's regex is never run here (no catastrophic backtracking in the request).
 * Everything else (negations, `x=""`, `.*`, `.+`, `a|.*`, `a?…`) is treated as selecting all.
 */
function narrows(m: AmMatcher): boolean {
  if (m.isEqual === false) return false;
  if (!m.isRegex) return m.value !== '';
  return !m.value.includes('|') && /^[A-Za-z0-9_: -](?![?*{])/.test(m.value);
}

/** The matchers would silence every alert: none of them narrows the selection. */
export function silencesEverything(matchers: AmMatcher[]): boolean {
  return !matchers.some(narrows);
}

/** Alertmanager refuses a silence whose every matcher matches the empty string (e.g. only alertname=~".*"). */
function alertmanagerRefusal(matchers: AmMatcher[]): string | null {
  if (matchers.length === 0) return 'a silence needs at least one matcher';
  const matchesEmpty = (m: AmMatcher) => (m.isEqual !== false ? matches(m, '') : !matches(m, ''));
  if (matchers.every(matchesEmpty)) {
    return 'Alertmanager refuses a silence whose every matcher matches the empty string (such as alertname=~".*"); to silence every alert use alertname=~".+"';
  }
  return null;
}

const matcherSchema = z
  .object({
    name: z
      .string({ error: 'must be a label name, for example alertname' })
      .regex(LABEL_NAME, { error: 'must be a label name (letters, digits and _, not starting with a digit), for example alertname' }),
    value: z
      .string({ error: 'must be a string (the label value, or a regular expression when isRegex is true)' })
      .max(1024, { error: 'must be at most 1024 characters' }),
    isRegex: z.boolean({ error: 'must be true or false' }).default(false),
    isEqual: z.boolean({ error: 'must be true or false (false negates the matcher: != or !~)' }).default(true),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (!m.isRegex) return;
    try {
      matcherRegex(m.value);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: `is not a regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`,
      });
    }
  });

export const stormParameters = z
  .object({
    matchers: z
      .array(matcherSchema, { error: 'must be a list of matchers, for example [{"name": "alertname", "value": "HighCPUUsage"}]' })
      .max(20, { error: 'must be at most 20 matchers' })
      .describe(
        'Label matchers of the alerts to silence (all must match), e.g. [{"name": "alertname", "value": "HighCPUUsage"}]; none, or only match-all regexes or negations, is P1',
      ),
    duration: z
      .union([z.string(), z.number()], { error: DURATION_MESSAGE })
      .refine(
        (d) => {
          const minutes = durationMinutes(d);
          return minutes !== null && minutes <= MAX_SILENCE_MINUTES;
        },
        { error: DURATION_MESSAGE },
      )
      .describe(
        `How long: 30m, 2h, 1h30m or minutes; up to ${P3_SILENCE_MINUTES} min is P3, longer P2; at most ${MAX_SILENCE_MINUTES / 60}h`,
      ),
    comment: z
      .string({ error: 'must be a string' })
      .max(500, { error: 'must be at most 500 characters' })
      .optional()
      .describe('Why (the silence\'s comment starts with "erp-ops run <run id>: ")'),
  })
  .strict();

export const unsilenceParameters = z
  .object({
    silenceId: z.uuid({ error: 'must be a silence id (a uuid) from GET /api/v1/alerts' }).optional(),
    runId: z.uuid({ error: 'must be the id (a uuid) of the alerts.storm run that created the silence' }).optional(),
  })
  .strict()
  .refine((p) => (p.silenceId === undefined) !== (p.runId === undefined), {
    error: 'give either silenceId (a silence from GET /api/v1/alerts) or runId (the alerts.storm run that created it), not both',
    path: ['silenceId'],
  });

export type StormParameters = z.infer<typeof stormParameters>;
export type UnsilenceParameters = z.infer<typeof unsilenceParameters>;

/** The run's level: P1 for matchers that silence everything, P2 beyond 30 minutes, else P3. */
export function stormSeverity(p: StormParameters): Severity {
  if (silencesEverything(p.matchers)) return 'P1';
  return (durationMinutes(p.duration) ?? Number.POSITIVE_INFINITY) > P3_SILENCE_MINUTES ? 'P2' : 'P3';
}

function text(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h}h${m ? `${m}m` : ''}` : `${m}m`;
}

async function requesterOf(dataSource: DataSource, runId: string): Promise<string> {
  const run = await dataSource.getRepository(RunEntity).findOne({ where: { id: runId } });
  return run?.requestedBy ?? 'erp-ops';
}

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

/** alerts.storm and alerts.unsilence. */
export function alertsStormProcedures({ alertmanager, dataSource, clock, inventory }: RemediationDeps): ProcedureDefinition[] {
  const url = inventory.urls.alertmanager.replace(/\/+$/, '');
  const call = (ctx: StepContext<unknown>) => ({ timeoutMs: CALL_MS, signal: ctx.signal });
  const silences = () => dataSource.getRepository(AlertSilenceEntity);

  /** What is firing, grouped by alertname, and which of it the matchers select. */
  const survey = async (matchers: AmMatcher[], ctx: StepContext<unknown>) => {
    const all = await alertmanager.alerts({}, call(ctx));
    const matched = matchers.length ? await alertmanager.alerts({ filter: matchers }, call(ctx)) : all;
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
    return {
      all,
      matched,
      summary: {
        firing: all.length,
        active: all.filter((a) => a.status.state === 'active').length,
        groups: [...groups.values()].sort((a, b) => b.count - a.count || a.alertname.localeCompare(b.alertname)),
        matchers: matchers.map(formatMatcher),
        wouldSilence: matched.length,
        alerts: matched.slice(0, DETAIL_ALERTS).map(brief),
        moreAlerts: Math.max(0, matched.length - DETAIL_ALERTS),
        fingerprints: matched.slice(0, MAX_FINGERPRINTS).map((a) => a.fingerprint),
      },
    };
  };

  const commentFor = (runId: string, p: StormParameters, minutes: number) =>
    `erp-ops run ${runId}: ${p.comment?.trim() || `alert storm: ${p.matchers.map(formatMatcher).join(', ')} silenced for ${text(minutes)}`}`;

  const storm: ProcedureDefinition<StormParameters> = {
    id: 'alerts.storm',
    title: 'Alert storm: count and group the firing alerts, silence the noisy group for a while (runbook Issue 5)',
    severity: 'P3',
    severityFor: stormSeverity,
    domain: 'system',
    parameters: stormParameters,
    locks: () => [SILENCE_LOCK],
    requiresApproval: false,
    steps: [
      {
        id: 'count',
        title: 'Count the firing alerts, group them by alertname, and list the ones the matchers select',
        timeoutMs: 30_000,
        plan: async (ctx) => (await survey(ctx.parameters.matchers, ctx)).summary,
        run: async (ctx) => (await survey(ctx.parameters.matchers, ctx)).summary,
      },
      {
        id: 'silence',
        title: 'Create the silence in Alertmanager (POST /api/v2/silences) and check the alerts are suppressed',
        timeoutMs: 60_000,
        plan: async (ctx) => {
          const p = ctx.parameters;
          const minutes = durationMinutes(p.duration)!;
          const now = clock.now();
          return {
            action: `POST ${url}/api/v2/silences`,
            matchers: p.matchers.map(formatMatcher),
            startsAt: now.toISOString(),
            endsAt: new Date(now.getTime() + minutes * 60_000).toISOString(),
            duration: text(minutes),
            createdBy: await requesterOf(dataSource, ctx.runId),
            comment: commentFor(ctx.runId, p, minutes),
            level: stormSeverity(p),
            refusedBecause: alertmanagerRefusal(p.matchers),
          };
        },
        run: async (ctx) => {
          const p = ctx.parameters;
          const refusal = alertmanagerRefusal(p.matchers);
          if (refusal) throw new Error(refusal);
          const minutes = durationMinutes(p.duration)!;
          const createdBy = await requesterOf(dataSource, ctx.runId);
          const { matched } = await survey(p.matchers, ctx);
          const now = clock.now();
          const endsAt = new Date(now.getTime() + minutes * 60_000);
          const comment = commentFor(ctx.runId, p, minutes);
          const silenceId = await alertmanager.createSilence(
            { matchers: p.matchers, startsAt: now.toISOString(), endsAt: endsAt.toISOString(), createdBy, comment },
            call(ctx),
          );
          try {
            await silences().insert({
              silenceId,
              runId: ctx.runId,
              createdBy,
              matchers: p.matchers,
              comment,
              startsAt: now,
              endsAt,
              createdAt: now,
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
            startsAt: now.toISOString(),
            endsAt: endsAt.toISOString(),
            createdBy,
            comment,
            matchers: p.matchers.map(formatMatcher),
            silenced: matched.length,
            fingerprints: matched.slice(0, MAX_FINGERPRINTS).map((a) => a.fingerprint),
          };
        },
        verify: async (ctx, output) => {
          const silenceId = String(output.silenceId);
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
        },
      },
    ],
  };

  /** The silence an unsilence run acts on: given, or the one the storm run created. */
  const silenceOf = async (p: UnsilenceParameters): Promise<{ silenceId: string; record: AlertSilenceEntity | null }> => {
    if (p.silenceId) return { silenceId: p.silenceId, record: await silences().findOne({ where: { silenceId: p.silenceId } }) };
    const record = await silences().findOne({ where: { runId: p.runId! }, order: { createdAt: 'DESC' } });
    if (!record)
      throw new Error(`run ${p.runId} created no silence (only a succeeded alerts.storm run does; GET /api/v1/alerts lists the silences)`);
    return { silenceId: record.silenceId, record };
  };

  const unsilence: ProcedureDefinition<UnsilenceParameters> = {
    id: 'alerts.unsilence',
    title: 'Remove a silence after the fix (expire it in Alertmanager: DELETE /api/v2/silence/{id})',
    severity: 'P3',
    domain: 'system',
    parameters: unsilenceParameters,
    locks: () => [SILENCE_LOCK],
    requiresApproval: false,
    steps: [
      {
        id: 'expire',
        title: 'Expire the silence and check it is expired',
        timeoutMs: 60_000,
        plan: async (ctx) => {
          const { silenceId, record } = await silenceOf(ctx.parameters);
          const silence = await alertmanager.silence(silenceId, call(ctx));
          return {
            action: `DELETE ${url}/api/v2/silence/${silenceId}`,
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
          const { silenceId } = await silenceOf(ctx.parameters);
          const before = await alertmanager.silence(silenceId, call(ctx));
          if (before.status.state !== 'expired') await alertmanager.expireSilence(silenceId, call(ctx));
          const now = clock.now();
          await silences().update({ silenceId, expiredAt: IsNull() }, { expiredAt: now, expiredByRun: ctx.runId });
          return {
            silenceId,
            previousState: before.status.state,
            alreadyExpired: before.status.state === 'expired',
            expiredAt: now.toISOString(),
          };
        },
        verify: async (ctx, output) => {
          const silenceId = String(output.silenceId);
          const started = Date.now();
          for (;;) {
            const silence = await alertmanager.silence(silenceId, call(ctx));
            if (silence.status.state === 'expired') return { silenceId, state: 'expired', endsAt: silence.endsAt };
            if (Date.now() - started >= SETTLE_MS)
              throw new Error(`silence ${silenceId} is still ${silence.status.state} ${SETTLE_MS / 1000} s after it was expired`);
            await sleep(250, ctx.signal);
          }
        },
      },
    ],
  };

  return [storm, unsilence];
}
