import { z } from 'zod';

/**
 * The inventory's `incidents` section: who is paged, how, and when (issue 14). Every key has
 * a default, so an inventory without the section still opens incidents and pages the
 * notification channels of `notifications` (the "team" contact of every level).
 */

export const INCIDENT_SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];
export const incidentSeveritySchema = z.enum(INCIDENT_SEVERITIES, { error: 'must be P1, P2, P3 or P4' });

const id = z
  .string({ error: 'must be an id of lower case letters, digits and -, for example budi' })
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { error: 'must be an id of lower case letters, digits and -, for example budi' });

const instant = z
  .string({ error: 'must be a time with its offset, for example 2026-12-24T09:00:00+07:00' })
  .refine((v) => /T/.test(v) && !Number.isNaN(Date.parse(v)), {
    error: 'must be a time with its offset, for example 2026-12-24T09:00:00+07:00',
  });

/** A person who can be paged. Chat handle and e-mail are channels; the phone is shown, never dialled. */
const person = z
  .object({
    id,
    name: z.string().min(1).max(200),
    /** The control-plane user this person acknowledges as (the one-click link acts as them). */
    username: z.string().min(1).max(128).optional(),
    /** Chat handle, mentioned in the chat message (for example @budi). */
    chat: z.string().min(1).max(100).optional(),
    email: z.email({ error: 'must be an e-mail address, for example budi@qutykarunia.com' }).optional(),
    phone: z.string().min(3).max(40).optional(),
  })
  .strict();

export const WEEK_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type WeekDay = (typeof WEEK_DAYS)[number];

const timeOfDay = (allowMidnightEnd: boolean) =>
  z
    .string({ error: `must be a time of day HH:MM, for example ${allowMidnightEnd ? '17:00 (or 24:00 for the end of the day)' : '08:00'}` })
    .regex(allowMidnightEnd ? /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/ : /^([01]\d|2[0-3]):[0-5]\d$/, {
      error: `must be a time of day HH:MM, for example ${allowMidnightEnd ? '17:00 (or 24:00 for the end of the day)' : '08:00'}`,
    });

/**
 * A window of a rotation's hours, in the inventory's time zone: on each of `days`, from `from`
 * until `to`. A `to` at or before `from` runs overnight and ends on the next day (fri 22:00–06:00
 * ends Saturday 06:00); a whole day is 00:00–24:00.
 */
const hoursWindow = z
  .object({
    days: z
      .array(z.enum(WEEK_DAYS, { error: 'must be a day: mon, tue, wed, thu, fri, sat or sun' }), {
        error: 'must be a list of days, for example [mon, tue, wed, thu, fri]',
      })
      .min(1, { error: 'must name at least one day, for example [mon, tue, wed, thu, fri]' })
      .refine((days) => new Set(days).size === days.length, { error: 'each day must be listed once' }),
    from: timeOfDay(false),
    to: timeOfDay(true),
  })
  .strict()
  .refine((w) => w.from !== w.to, {
    error: 'must not equal from: a window 22:00 to 06:00 runs overnight into the next day; a whole day is 00:00 to 24:00',
    path: ['to'],
  });

/** An on-call rotation: members take turns, a week each; an override names who covers a period instead. */
const rotation = z
  .object({
    id,
    members: z.array(id).min(1, { error: 'must name at least one person' }),
    /**
     * The first hand-over: the first member is on call for the week from this time, the next
     * member the week after, and so on (the weekly hand-over is this weekday and time of day on the
     * wall clock of the inventory's `timezone`, summer time or not).
     */
    start: instant.default('2026-01-05T09:00:00+07:00'),
    overrides: z
      .array(z.object({ person: id, from: instant, to: instant }).strict())
      .default([])
      .refine((list) => list.every((o) => Date.parse(o.from) < Date.parse(o.to)), { error: 'each override must end after it starts' }),
    /**
     * When the rotation is on call, in the inventory's time zone (default: at all hours). Outside
     * them it pages nobody; an override covers its whole period, inside the hours or not.
     */
    hours: z
      .array(hoursWindow, {
        error: 'must be a list of windows, for example [{ days: [mon, tue, wed, thu, fri], from: "08:00", to: "17:00" }]',
      })
      .min(1, { error: 'must list at least one window; leave hours out for a rotation on call at all hours' })
      .optional(),
  })
  .strict();

/** A contact of a level: a rotation (whoever is on call), a person, or the team channels of `notifications`. */
const contact = z
  .string({ error: 'must be rotation:<id>, person:<id> or team, for example rotation:senior-dev' })
  .regex(/^(rotation:[a-z0-9][a-z0-9-]*|person:[a-z0-9][a-z0-9-]*|team)$/, {
    error: 'must be rotation:<id>, person:<id> or team, for example rotation:senior-dev',
  });

const level = z.array(contact).min(1, { error: 'must name at least one contact, for example [rotation:senior-dev]' });

/** A severity's chain: the levels paged in turn (each waits its level's response time), repeated. */
const policy = z
  .object({
    steps: z.array(z.enum(['P1', 'P2', 'P3'], { error: 'must be P1, P2 or P3' })).min(1),
    /** How many more times the whole chain runs after the first (0 = once). */
    repeat: z.number().int().min(0).max(20).default(1),
  })
  .strict();

/** A rule mapping an alert's labels to a severity; the first rule whose labels all match wins. */
const severityRule = z
  .object({
    match: z.record(z.string().min(1), z.string()).default({}),
    severity: incidentSeveritySchema,
  })
  .strict();

const minutes = (example: number) =>
  z.number({ error: `must be a number of minutes, for example ${example}` }).positive({ error: 'must be above 0' });

export const DEFAULT_SEVERITY_RULES: z.infer<typeof severityRule>[] = [
  { match: { alertname: 'HighAPILatency' }, severity: 'P2' },
  { match: { alertname: 'HighErrorRate' }, severity: 'P2' },
  { match: { severity: 'critical' }, severity: 'P1' },
  { match: { severity: 'warning' }, severity: 'P3' },
  { match: {}, severity: 'P4' },
];

export const incidentsSchema = z
  .object({
    people: z.array(person).default([]),
    rotations: z.array(rotation).default([]),
    /** Who each level pages; "team" is the notification channels (support chat and mailbox; P1 the emergency ones). */
    levels: z
      .object({ P1: level.default(['team']), P2: level.default(['team']), P3: level.default(['team']) })
      .strict()
      .default({ P1: ['team'], P2: ['team'], P3: ['team'] }),
    /** Per severity, the chain (the runbook's table by default: a level escalates to the one above). */
    policies: z
      .object({
        P1: policy.default({ steps: ['P1'], repeat: 2 }),
        P2: policy.default({ steps: ['P2', 'P1'], repeat: 1 }),
        P3: policy.default({ steps: ['P3', 'P2', 'P1'], repeat: 0 }),
      })
      .strict()
      .default({ P1: { steps: ['P1'], repeat: 2 }, P2: { steps: ['P2', 'P1'], repeat: 1 }, P3: { steps: ['P3', 'P2', 'P1'], repeat: 0 } }),
    /** P4 (incident-response document): notified (P3 contacts), never escalated. */
    p4ResponseMinutes: minutes(60).default(60),
    severityRules: z.array(severityRule).default(DEFAULT_SEVERITY_RULES),
    /** Status updates due while a P1/P2 incident is open. */
    statusUpdateMinutes: z
      .object({ P1: minutes(5).default(5), P2: minutes(10).default(10) })
      .strict()
      .default({ P1: 5, P2: 10 }),
    /** The incident report (post-mortem) of a P1/P2 is due this long after it resolves. */
    reportDueHours: z.number().positive().default(24),
    /** An acknowledgement lapses after this (the incident is triggered again and pages again). */
    ackTimeoutMinutes: minutes(60).default(60),
    /** An incident whose alerts have all resolved resolves itself after this grace. */
    resolveGraceSeconds: z.number().int().min(0).max(86400).default(300),
    /** A resolved incident whose alert group fires again within this reopens (else a new incident). */
    reopenWindowMinutes: minutes(60).default(60),
    /** How often open incidents are checked against Alertmanager (lost resolved notifications). */
    reconcileSeconds: z.number().int().min(5).max(3600).default(60),
    /** Base URL of the one-click acknowledge links (this control plane as people reach it). */
    publicUrl: z.url({ error: 'must be a URL, for example https://ops.qutykarunia.com' }).default('http://127.0.0.1:3100'),
  })
  .strict()
  .superRefine((section, ctx) => {
    const people = new Set(section.people.map((p) => p.id));
    const rotations = new Set(section.rotations.map((r) => r.id));
    section.people.forEach((p, i) => {
      if (section.people.findIndex((q) => q.id === p.id) !== i)
        ctx.addIssue({ code: 'custom', path: ['people', i, 'id'], message: `${p.id} is listed twice` });
    });
    section.rotations.forEach((r, i) => {
      r.members.forEach((m, j) => {
        if (!people.has(m))
          ctx.addIssue({ code: 'custom', path: ['rotations', i, 'members', j], message: `${m} is not in incidents.people` });
      });
      r.overrides.forEach((o, j) => {
        if (!people.has(o.person))
          ctx.addIssue({
            code: 'custom',
            path: ['rotations', i, 'overrides', j, 'person'],
            message: `${o.person} is not in incidents.people`,
          });
      });
    });
    for (const name of ['P1', 'P2', 'P3'] as const) {
      section.levels[name].forEach((c, j) => {
        const [kind, ref] = c.split(':');
        if (kind === 'person' && !people.has(ref))
          ctx.addIssue({ code: 'custom', path: ['levels', name, j], message: `${ref} is not in incidents.people` });
        if (kind === 'rotation' && !rotations.has(ref))
          ctx.addIssue({ code: 'custom', path: ['levels', name, j], message: `${ref} is not in incidents.rotations` });
      });
    }
  });

export type IncidentsSection = z.infer<typeof incidentsSchema>;
export type IncidentPerson = IncidentsSection['people'][number];
export type IncidentRotation = IncidentsSection['rotations'][number];
