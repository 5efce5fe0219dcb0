/**
 * On-call and escalation policy, as pure functions of the inventory's `incidents` section and
 * a time: who a level pages now, the chain an incident follows, the severity of an alert.
 */
import { IncidentPerson, IncidentRotation, IncidentSeverity, IncidentsSection } from '../../config/incidents.schema';
import { Inventory } from '../../config/inventory.schema';
import { inHours, instantOfWall, wallClock } from './oncall-hours';

const WEEK_MS = 7 * 24 * 3600 * 1000;

export type Level = 'P1' | 'P2' | 'P3';

/** Someone (or the team channels) a level pages. */
export interface Contact {
  /** person id, or `team` for the notification channels of the inventory. */
  id: string;
  name: string;
  username?: string;
  chat?: string;
  email?: string;
  phone?: string;
  /** How this contact was reached from the level (rotation:senior-dev, person:budi, team). */
  via: string;
}

/** One step of a chain: a level, its contacts as resolved when paged, and how long it waits. */
export interface PolicyStep {
  level: Level;
  waitSeconds: number;
}

/** The policy an incident follows, frozen when it opens. */
export interface IncidentPolicy {
  severity: IncidentSeverity;
  steps: PolicyStep[];
  repeat: number;
  escalates: boolean;
  ackTimeoutSeconds: number;
  statusUpdateSeconds: number | null;
  reportDueSeconds: number | null;
  resolveGraceSeconds: number;
  reopenWindowSeconds: number;
  /** The escalation table's row the incident was opened for (its contacts and response time). */
  situation?: { id: string; situation: string; contacts: string[]; responseMinutes: number };
  /** The people, rotations and levels as they were (a chain pages these, not later edits). */
  people: IncidentPerson[];
  rotations: IncidentRotation[];
  levels: Record<Level, string[]>;
}

/**
 * The member of a rotation whose turn `at` falls in (an override covering `at` wins), with that
 * turn's bounds. Turns are weeks of the wall clock of `timeZone` from `start`: the hand-over keeps
 * its weekday and time of day across a change to or from summer time. Before the rotation's
 * `start` nobody has a turn: `person` is null until then. Hours are not considered here (see
 * `rotationOnCall`).
 */
export function onCallAt(
  rotation: IncidentRotation,
  at: Date,
  timeZone: string,
): { person: string | null; from: Date; to: Date; override: boolean } {
  const t = at.getTime();
  const override = rotation.overrides.find((o) => Date.parse(o.from) <= t && t < Date.parse(o.to));
  if (override) return { person: override.person, from: new Date(override.from), to: new Date(override.to), override: true };
  const start = Date.parse(rotation.start);
  if (t < start) {
    const next = rotation.overrides.filter((o) => Date.parse(o.from) > t).map((o) => Date.parse(o.from));
    return { person: null, from: new Date(t), to: new Date(Math.min(start, ...next)), override: false };
  }
  const wallStart = wallClock(start, timeZone);
  const handOver = (k: number) => (k === 0 ? start : instantOfWall(wallStart + k * WEEK_MS, timeZone));
  let week = Math.max(0, Math.floor((wallClock(t, timeZone) - wallStart) / WEEK_MS));
  // Around a change of clocks a wall reading repeats or never happens: the hand-over instants decide.
  if (week > 0 && handOver(week) > t) week -= 1;
  else if (handOver(week + 1) <= t) week += 1;
  const from = new Date(handOver(week));
  const to = new Date(handOver(week + 1));
  return { person: rotation.members[week % rotation.members.length], from, to, override: false };
}

/**
 * Who a rotation pages at `at`: the override's person for its whole period; otherwise, inside the
 * rotation's hours (in `timeZone`) and once it has started, the member whose turn it is; else nobody.
 */
export function rotationOnCall(rotation: IncidentRotation, at: Date, timeZone: string): string | null {
  const turn = onCallAt(rotation, at, timeZone);
  if (turn.override) return turn.person;
  return turn.person !== null && inHours(rotation.hours, at, timeZone) ? turn.person : null;
}

/**
 * The contacts a level pages at `at`, each once, in the order the inventory lists them. A
 * rotation outside its hours (in `timeZone`, the inventory's) or not yet started adds nobody.
 */
export function contactsOf(
  section: Pick<IncidentsSection, 'people' | 'rotations' | 'levels'>,
  level: Level,
  at: Date,
  notifications: Inventory['notifications'],
  timeZone: string,
): Contact[] {
  const out: Contact[] = [];
  const seen = new Set<string>();
  const add = (contact: Contact) => {
    if (seen.has(contact.id)) return;
    seen.add(contact.id);
    out.push(contact);
  };
  for (const entry of section.levels[level]) {
    if (entry === 'team') {
      add({
        id: 'team',
        name: 'team channels',
        chat: level === 'P1' ? notifications.emergencyChannel : notifications.slackChannel,
        email: notifications.email,
        via: 'team',
      });
      continue;
    }
    const [kind, ref] = entry.split(':');
    const personId =
      kind === 'rotation'
        ? rotationOnCall(
            section.rotations.find((r) => r.id === ref)!,
            at,
            timeZone,
          )
        : ref;
    const person = section.people.find((p) => p.id === personId);
    if (person) add({ ...person, via: entry });
  }
  return out;
}

/** The severity of an alert: the first rule whose labels all match. */
export function severityOf(labels: Record<string, string>, rules: IncidentsSection['severityRules']): IncidentSeverity {
  for (const rule of rules) if (Object.entries(rule.match).every(([k, v]) => labels[k] === v)) return rule.severity;
  return 'P4';
}

export const SEVERITY_RANK: Record<IncidentSeverity, number> = { P1: 1, P2: 2, P3: 3, P4: 4 };

/** The more urgent of two severities. */
export function higher(a: IncidentSeverity, b: IncidentSeverity): IncidentSeverity {
  return SEVERITY_RANK[a] <= SEVERITY_RANK[b] ? a : b;
}

/** The level whose right acting on an incident of this severity needs (P4 needs P3's). */
export function levelOf(severity: IncidentSeverity): Level {
  return severity === 'P4' ? 'P3' : severity;
}

/**
 * The policy of a new incident. Response times come from the runbook's table
 * (`escalation.Pn.responseMinutes`); `scale` divides every duration (tests run a 5-minute
 * chain in seconds with OPS_INCIDENT_TIME_SCALE).
 */
export function policyFor(severity: IncidentSeverity, inventory: Inventory, scale = 1, situationId?: string | null): IncidentPolicy {
  const section = inventory.incidents;
  const seconds = (minutes: number) => Math.max(1, Math.round((minutes * 60) / scale));
  // A situation's row has its own response time at the incident's level (P3 "single user
  // issue": 1 hour, not the level's 30 min); the other levels of the chain keep theirs.
  const row = situationId ? inventory.escalation[levelOf(severity)].situations.find((s) => s.id === situationId) : undefined;
  const response = (level: Level) =>
    row && level === levelOf(severity) ? row.responseMinutes : inventory.escalation[level].responseMinutes;
  const steps: PolicyStep[] =
    severity === 'P4'
      ? [{ level: 'P3', waitSeconds: seconds(section.p4ResponseMinutes) }]
      : section.policies[severity].steps.map((level) => ({ level, waitSeconds: seconds(response(level)) }));
  const statusMinutes = severity === 'P1' || severity === 'P2' ? section.statusUpdateMinutes[severity] : null;
  return {
    severity,
    steps,
    repeat: severity === 'P4' ? 0 : section.policies[severity].repeat,
    escalates: severity !== 'P4',
    ackTimeoutSeconds: seconds(section.ackTimeoutMinutes),
    statusUpdateSeconds: statusMinutes === null ? null : seconds(statusMinutes),
    reportDueSeconds: severity === 'P1' || severity === 'P2' ? seconds(section.reportDueHours * 60) : null,
    resolveGraceSeconds: Math.round(section.resolveGraceSeconds / scale),
    reopenWindowSeconds: seconds(section.reopenWindowMinutes),
    ...(row ? { situation: { id: row.id, situation: row.situation, contacts: row.contacts, responseMinutes: row.responseMinutes } } : {}),
    people: section.people,
    rotations: section.rotations,
    levels: section.levels,
  };
}

/** Where the chain goes after (round, step): the next step, or null when it has run out. */
export function nextStep(policy: IncidentPolicy, round: number, step: number): { round: number; step: number } | null {
  if (!policy.escalates) return null;
  if (step + 1 < policy.steps.length) return { round, step: step + 1 };
  if (round < policy.repeat) return { round: round + 1, step: 0 };
  return null;
}
