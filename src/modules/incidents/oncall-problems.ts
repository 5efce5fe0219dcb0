/**
 * What is wrong with the inventory's on-call set-up, as pure functions of the inventory and a
 * time: contacts without a reachable channel, and the periods when a level has nobody on call
 * who can be reached (every week, from rotations' hours; or dated, from overrides, a member
 * without a channel, a rotation not yet started). Warned at start and served by GET /api/v1/oncall.
 */
import { IncidentsSection } from '../../config/incidents.schema';
import { Inventory } from '../../config/inventory.schema';
import { Level, onCallAt, rotationOnCall } from './oncall';
import {
  DAY_MINUTES,
  hoursBoundaries,
  inHours,
  instantOfWall,
  localInstants,
  localLabel,
  localTime,
  markHours,
  wallClock,
  WEEK_MINUTES,
  weekMinute,
  weekMinuteLabel,
} from './oncall-hours';

const DAY_MS = DAY_MINUTES * 60_000;
const WEEK_MS = 7 * DAY_MS;
const LEVELS: Level[] = ['P1', 'P2', 'P3'];

type Section = Pick<IncidentsSection, 'people' | 'rotations' | 'levels'>;

/** Who can be reached: a person with a chat handle and a chat webhook, or an e-mail and an SMTP server. */
export interface Reach {
  team: boolean;
  person: (id: string) => boolean;
}

export function reachOf(inventory: Inventory): Reach {
  const chat = inventory.notifications.chatWebhookUrl !== '';
  const mail = inventory.notifications.smtpUrl !== '';
  return {
    team: chat || mail,
    person: (id) => {
      const p = inventory.incidents.people.find((q) => q.id === id);
      return !!p && ((chat && !!p.chat) || (mail && !!p.email));
    },
  };
}

/** A period when a level has nobody on call who can be reached. */
export interface Gap {
  level: Level;
  from: Date;
  to: Date;
  /** Why, for a dated gap (an override, a member without a channel, a rotation not yet started). */
  causes: string[];
}

/** Whether the level has someone reachable on call at `at`. */
export function covered(section: Section, level: Level, at: Date, reach: Reach, timeZone: string): boolean {
  return section.levels[level].some((entry) => {
    if (entry === 'team') return reach.team;
    const [kind, ref] = entry.split(':');
    if (kind === 'person') return reach.person(ref);
    const who = rotationOnCall(
      section.rotations.find((r) => r.id === ref)!,
      at,
      timeZone,
    );
    return who !== null && reach.person(who);
  });
}

/**
 * The minutes of a week (Monday 00:00 = 0, the inventory's wall clock) the level covers by its
 * shape: the team or a person with a channel at every hour, a rotation with a reachable member in
 * its hours. Whose turn it is, overrides and start are dated matters, left to `datedGaps`.
 */
export function weeklyCoverage(section: Section, level: Level, reach: Reach): boolean[] {
  const week = new Array<boolean>(WEEK_MINUTES).fill(false);
  for (const entry of section.levels[level]) {
    const [kind, ref] = entry.split(':');
    if ((entry === 'team' && reach.team) || (kind === 'person' && reach.person(ref))) markHours(week, undefined);
    if (kind === 'rotation') {
      const rotation = section.rotations.find((r) => r.id === ref)!;
      if (rotation.members.some(reach.person)) markHours(week, rotation.hours);
    }
  }
  return week;
}

/** The uncovered runs of a week as [start, end) minutes (a run across Sunday midnight ends past the week). */
export function weeklyGaps(week: boolean[]): [number, number][] {
  const first = week.indexOf(true);
  if (first < 0) return [[0, WEEK_MINUTES]];
  const gaps: [number, number][] = [];
  let start = -1;
  for (let i = first; i <= first + WEEK_MINUTES; i++) {
    const on = i === first + WEEK_MINUTES || week[i % WEEK_MINUTES];
    if (!on && start < 0) start = i;
    if (on && start >= 0) {
      gaps.push([start % WEEK_MINUTES, (start % WEEK_MINUTES) + (i - start)]);
      start = -1;
    }
  }
  return gaps.sort((a, b) => a[0] - b[0]);
}

/** "Sat 00:00–Mon 08:00"; a run ending on its own weekday a week on says "next". */
export function weeklyLabel([start, end]: [number, number]): string {
  const sameDay = Math.floor(start / DAY_MINUTES) === Math.floor((end % WEEK_MINUTES) / DAY_MINUTES) && end - start > DAY_MINUTES;
  return `${weekMinuteLabel(start)}–${sameDay ? 'next ' : ''}${weekMinuteLabel(end)}`;
}

/** The moments in [from, to] where the level's coverage may change: hand-overs, overrides, starts, hours' edges. */
function breakpoints(section: Section, level: Level, from: number, to: number, timeZone: string): number[] {
  const points = new Set<number>([from, to]);
  const rotations = section.levels[level]
    .filter((e) => e.startsWith('rotation:'))
    .map((e) => section.rotations.find((r) => r.id === e.slice('rotation:'.length))!);
  for (const rotation of rotations) {
    // Hand-overs: weeks of the wall clock from start (see onCallAt).
    const start = Date.parse(rotation.start);
    const wallStart = wallClock(start, timeZone);
    points.add(start);
    for (let k = Math.max(0, Math.floor((wallClock(from, timeZone) - wallStart) / WEEK_MS)); ; k++) {
      const t = instantOfWall(wallStart + k * WEEK_MS, timeZone);
      if (t > to) break;
      points.add(t);
    }
    for (const o of rotation.overrides) [Date.parse(o.from), Date.parse(o.to)].forEach((t) => points.add(t));
  }
  const minutes = [...new Set(rotations.flatMap((r) => (r.hours ? hoursBoundaries(r.hours) : [])))];
  if (minutes.length) {
    const first = localTime(from - DAY_MS, timeZone);
    for (let i = 0; i <= Math.ceil((to - from) / DAY_MS) + 2; i++) {
      const d = new Date(Date.UTC(first.year, first.month - 1, first.day + i));
      for (const minute of minutes)
        for (const t of localInstants(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), minute, timeZone)) points.add(t);
    }
  }
  return [...points].filter((t) => t >= from && t <= to).sort((a, b) => a - b);
}

/** Why nobody of the level's rotations is on call and reachable at `at` (dated causes only). */
function causesAt(section: Section, level: Level, at: Date, reach: Reach, timeZone: string): string[] {
  const causes: string[] = [];
  for (const entry of section.levels[level].filter((e) => e.startsWith('rotation:'))) {
    const rotation = section.rotations.find((r) => r.id === entry.slice('rotation:'.length))!;
    const turn = onCallAt(rotation, at, timeZone);
    if (turn.override)
      causes.push(
        `rotation ${rotation.id} is handed to ${turn.person} by an override (${localLabel(turn.from, timeZone)}–${localLabel(turn.to, timeZone)}), and ${turn.person} has no reachable channel`,
      );
    else if (turn.person === null) causes.push(`rotation ${rotation.id} starts ${localLabel(Date.parse(rotation.start), timeZone)}`);
    else if (inHours(rotation.hours, at, timeZone))
      causes.push(`it is ${turn.person}'s turn on rotation ${rotation.id}, and ${turn.person} has no reachable channel`);
  }
  return causes;
}

/**
 * The periods in [from, to) when the level has nobody on call who can be reached, beyond its
 * weekly gaps (`week`): a period is kept when some of it is not a weekly gap, whole (so a
 * member's week reads as one period, weekend included).
 */
export function datedGaps(section: Section, level: Level, reach: Reach, timeZone: string, from: Date, to: Date, week: boolean[]): Gap[] {
  const points = breakpoints(section, level, from.getTime(), to.getTime(), timeZone);
  const gaps: Gap[] = [];
  let open: { from: number; dated: boolean; causes: Set<string> } | null = null;
  for (let i = 0; i < points.length - 1; i++) {
    const at = new Date(points[i]);
    if (covered(section, level, at, reach, timeZone)) {
      if (open?.dated) gaps.push({ level, from: new Date(open.from), to: at, causes: [...open.causes] });
      open = null;
      continue;
    }
    open ??= { from: points[i], dated: false, causes: new Set() };
    if (week[weekMinute(at, timeZone)]) {
      open.dated = true;
      causesAt(section, level, at, reach, timeZone).forEach((c) => open!.causes.add(c));
    }
  }
  if (open?.dated) gaps.push({ level, from: new Date(open.from), to, causes: [...open.causes] });
  return gaps;
}

/** How far ahead dated gaps are looked for: a full turn of every rotation, every override still to come, capped at a year. */
export function horizonOf(section: Section, now: Date): Date {
  const t = now.getTime();
  let end = t + Math.max(4, ...section.rotations.map((r) => r.members.length + 1)) * WEEK_MS;
  for (const r of section.rotations) {
    for (const o of r.overrides) if (Date.parse(o.to) > t) end = Math.max(end, Date.parse(o.to) + DAY_MS);
    if (Date.parse(r.start) > t) end = Math.max(end, Date.parse(r.start) + WEEK_MS);
  }
  return new Date(Math.min(end, t + 366 * DAY_MS));
}

/** The problems of the contacts themselves (the messages of before hours existed). */
function contactProblems(section: Section, level: Level, reach: Reach): string[] {
  const entries = section.levels[level];
  const problems: string[] = [];
  const someone = entries.some((entry) => {
    if (entry === 'team') return reach.team;
    const [kind, ref] = entry.split(':');
    if (kind === 'person') return reach.person(ref);
    const rotation = section.rotations.find((r) => r.id === ref);
    return !!rotation && rotation.members.every(reach.person);
  });
  if (!someone)
    problems.push(
      `level ${level} (${entries.join(', ')}) has nobody reachable at every hour: no chat webhook or e-mail server configured for its people, or a rotation member without a reachable channel`,
    );
  for (const entry of entries) {
    const [kind, ref] = entry.split(':');
    if (kind === 'person' && !reach.person(ref))
      problems.push(
        `level ${level}: person ${ref} has no reachable channel (chat handle with a chat webhook, or e-mail with an SMTP server)`,
      );
    if (kind === 'rotation')
      for (const m of section.rotations.find((r) => r.id === ref)!.members)
        if (!reach.person(m))
          problems.push(`level ${level}: rotation ${ref} member ${m} has no reachable channel, so nobody is reachable during their weeks`);
  }
  return problems;
}

/** A dated gap as a line: "level P3 has nobody on call 2026-12-24 00:00–2026-12-27 00:00 (Asia/Jakarta): …". */
export function gapLine(gap: Gap, timeZone: string, now: Date, horizon: Date): string {
  const from = gap.from.getTime() === now.getTime() ? `now (${localLabel(gap.from, timeZone)})` : localLabel(gap.from, timeZone);
  const to = gap.to.getTime() === horizon.getTime() ? `at least ${localLabel(gap.to, timeZone)}` : localLabel(gap.to, timeZone);
  return `level ${gap.level} has nobody on call ${from}–${to} (${timeZone})${gap.causes.length ? `: ${gap.causes.join('; ')}` : ''}`;
}

/**
 * What is wrong with the inventory's on-call set-up at `now`: contacts nobody can reach, the
 * hours of every week a level has nobody on call, and the dated periods ahead when it has
 * nobody (an override to a person without a channel, a member's turn, a rotation not started).
 */
export function oncallProblems(inventory: Inventory, now: Date): string[] {
  const section = inventory.incidents;
  const timeZone = inventory.timezone;
  const reach = reachOf(inventory);
  const horizon = horizonOf(section, now);
  const problems: string[] = [];
  for (const level of LEVELS) {
    problems.push(...contactProblems(section, level, reach));
    const week = weeklyCoverage(section, level, reach);
    const weekly = weeklyGaps(week);
    if (week.includes(true) && weekly.length)
      problems.push(`level ${level} has nobody on call every week ${weekly.map(weeklyLabel).join(', ')} (${timeZone})`);
    for (const gap of datedGaps(section, level, reach, timeZone, now, horizon, week)) problems.push(gapLine(gap, timeZone, now, horizon));
  }
  return [...new Set(problems)];
}
