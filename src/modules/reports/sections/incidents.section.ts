/**
 * The report's `incidents` section, from the control plane's own incidents table (no
 * Prometheus): the incidents opened in the period, counted per severity and per local day;
 * MTTA (mean time from opening to the first acknowledgement) and MTTR (mean time from
 * opening to the resolution); and per incident whether its response-time target was met.
 *
 * The target is the first step's wait of the policy the incident opened with (the runbook's
 * response time of the level it pages first: P1 5 min, P2 15 min, P3 30 min, P4 1 h, as the
 * inventory sets them). It is met when someone responded within it: the first
 * acknowledgement, or a person's resolution without one. Missed when the response came
 * later, or when nobody responded and the target has passed. Undetermined (met null) while
 * the target is still running, or when the incident resolved itself (its alerts resolved)
 * before the target with nobody having responded: no response was owed by then.
 * Pure: the rows are read by the report service.
 */
import { ReportPeriod } from '../report-period';
import { round } from '../report-math';

export const INCIDENT_SEVERITIES = ['P1', 'P2', 'P3', 'P4'] as const;
/** Who resolves an incident whose alerts all resolved (the escalation engine's auto-resolve). */
const AUTOMATIC_RESOLVER = 'alertmanager';
/** At most this many incidents are listed one by one (the counts and means cover all). */
export const MAX_LISTED_INCIDENTS = 2000;

/** One incident as read from the incidents table. */
export interface IncidentReportRow {
  id: string;
  title: string;
  severity: string;
  component: string | null;
  status: string;
  source: string;
  created_at: Date;
  first_acknowledged_at: Date | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  /** The policy's first step wait (seconds), as the incident opened. */
  target_seconds: number | null;
}

export type ResponseVerdict = 'met' | 'missed' | 'pending' | 'resolved_before_target';

export interface IncidentLine {
  id: string;
  title: string;
  severity: string;
  component: string | null;
  status: string;
  source: string;
  openedAt: string;
  acknowledgedAt: string | null;
  resolvedAt: string | null;
  timeToAcknowledgeSeconds: number | null;
  timeToResolveSeconds: number | null;
  responseTargetSeconds: number | null;
  respondedAt: string | null;
  respondedBy: 'acknowledgement' | 'resolution' | null;
  responseTarget: ResponseVerdict;
  /** true met, false missed, null not yet known or not owed. */
  responseTargetMet: boolean | null;
}

const seconds = (from: Date, to: Date) => round((to.getTime() - from.getTime()) / 1000, 1);
/** The mean of durations in milliseconds, in seconds to 0.1 s; null for none. */
export const meanSeconds = (ms: number[]) => (ms.length ? round(ms.reduce((a, b) => a + b, 0) / ms.length / 1000, 1) : null);

/** The verdict of one incident's response-time target at `now`. */
export function judgeResponse(row: IncidentReportRow, now: number): Pick<IncidentLine, 'respondedAt' | 'respondedBy' | 'responseTarget'> {
  const byPerson = row.resolved_at && row.resolved_by !== AUTOMATIC_RESOLVER ? row.resolved_at : null;
  const responded = row.first_acknowledged_at ?? byPerson;
  const respondedBy = row.first_acknowledged_at ? 'acknowledgement' : byPerson ? 'resolution' : null;
  const respondedAt = responded ? responded.toISOString() : null;
  if (row.target_seconds === null) return { respondedAt, respondedBy, responseTarget: 'pending' };
  const due = row.created_at.getTime() + row.target_seconds * 1000;
  if (responded) return { respondedAt, respondedBy, responseTarget: responded.getTime() <= due ? 'met' : 'missed' };
  if (row.resolved_at && row.resolved_at.getTime() <= due) return { respondedAt, respondedBy, responseTarget: 'resolved_before_target' };
  return { respondedAt, respondedBy, responseTarget: now > due ? 'missed' : 'pending' };
}

function lineOf(row: IncidentReportRow, now: number): IncidentLine {
  const judged = judgeResponse(row, now);
  return {
    id: row.id,
    title: row.title,
    severity: row.severity,
    component: row.component,
    status: row.status,
    source: row.source,
    openedAt: row.created_at.toISOString(),
    acknowledgedAt: row.first_acknowledged_at?.toISOString() ?? null,
    resolvedAt: row.resolved_at?.toISOString() ?? null,
    timeToAcknowledgeSeconds: row.first_acknowledged_at ? seconds(row.created_at, row.first_acknowledged_at) : null,
    timeToResolveSeconds: row.resolved_at ? seconds(row.created_at, row.resolved_at) : null,
    responseTargetSeconds: row.target_seconds,
    ...judged,
    responseTargetMet: judged.responseTarget === 'met' ? true : judged.responseTarget === 'missed' ? false : null,
  };
}

/** Milliseconds from opening to `at` (null when it has not happened). */
const msTo = (row: IncidentReportRow, at: Date | null) => (at ? at.getTime() - row.created_at.getTime() : null);

/** Counts and means (of the exact durations, rounded once) of a set of incidents. */
function figures(rows: IncidentReportRow[], lines: IncidentLine[]) {
  const ack = rows.map((r) => msTo(r, r.first_acknowledged_at)).filter((v): v is number => v !== null);
  const res = rows.map((r) => msTo(r, r.resolved_at)).filter((v): v is number => v !== null);
  const verdicts = (v: ResponseVerdict) => lines.filter((l) => l.responseTarget === v).length;
  return {
    count: lines.length,
    open: lines.filter((l) => l.status !== 'resolved').length,
    acknowledged: ack.length,
    resolved: res.length,
    mttaSeconds: meanSeconds(ack),
    mttrSeconds: meanSeconds(res),
    responseTarget: {
      met: verdicts('met'),
      missed: verdicts('missed'),
      pending: verdicts('pending'),
      resolvedBeforeTarget: verdicts('resolved_before_target'),
    },
  };
}

/** The section: per severity, per day, and (up to MAX_LISTED_INCIDENTS, oldest first) per incident. */
export function buildIncidentsSection(rows: IncidentReportRow[], period: ReportPeriod, now: number) {
  const lines = rows.map((r) => lineOf(r, now));
  const bySeverity = Object.fromEntries(
    INCIDENT_SEVERITIES.map((s) => [
      s,
      figures(
        rows.filter((r) => r.severity === s),
        lines.filter((l) => l.severity === s),
      ),
    ]),
  );
  const days = period.days.map((d) => {
    const of = lines.filter((l) => {
      const t = Date.parse(l.openedAt);
      return t >= d.start && t < d.end;
    });
    const count = (s: string) => of.filter((l) => l.severity === s).length;
    return {
      date: d.date,
      P1: count('P1'),
      P2: count('P2'),
      P3: count('P3'),
      P4: count('P4'),
      total: of.length,
      met: of.filter((l) => l.responseTargetMet === true).length,
      missed: of.filter((l) => l.responseTargetMet === false).length,
    };
  });
  const all = figures(rows, lines);
  return {
    computedFrom:
      "incidents (the control plane's incidents opened in the period, by opening time in the report's time zone; judged at generation)",
    judgedAt: new Date(now).toISOString(),
    ...all,
    countBySeverity: Object.fromEntries(INCIDENT_SEVERITIES.map((s) => [s, bySeverity[s].count])),
    bySeverity,
    days,
    listed: Math.min(lines.length, MAX_LISTED_INCIDENTS),
    incidents: lines.slice(0, MAX_LISTED_INCIDENTS),
  };
}
