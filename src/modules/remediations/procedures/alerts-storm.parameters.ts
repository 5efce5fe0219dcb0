/**
 * The parameters of alerts.storm and alerts.unsilence, and the pure rules about them: durations,
 * Alertmanager's regex matchers, and the run's level.
 *
 * Levels: a silence of up to 30 minutes is P3, longer is P2; matchers that would silence
 * everything (none, or only regex matchers that accept any value, or only negated ones) are P1.
 */
import { z } from 'zod';
import { Severity } from '../../../config/inventory.schema';
import { AmMatcher } from '../../../integrations/contracts';
import { flag } from '../../../procedures/parameters';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Longest silence: a storm is muted while it is investigated, not forever. */
export const MAX_SILENCE_MINUTES = 24 * 60;
/** Up to this a silence is P3; longer is P2 (the runbook's example is 30 minutes). */
export const P3_SILENCE_MINUTES = 30;

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
export function alertmanagerRefusal(matchers: AmMatcher[]): string | null {
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
    isRegex: flag().default(false),
    isEqual: flag('false negates the matcher: != or !~').default(true),
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

/** Minutes as Alertmanager-style text: 90 → 1h30m. */
export function durationText(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h}h${m ? `${m}m` : ''}` : `${m}m`;
}
