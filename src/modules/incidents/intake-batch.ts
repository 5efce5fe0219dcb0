import { EntityManager } from 'typeorm';
import { WebhookPayload } from '../alerts/public';
import { IncidentRow } from './incident-store';

type Alert = WebhookPayload['alerts'][number];

/** One stored (new) delivery to turn into incidents. */
export interface IntakeDelivery {
  payload: WebhookPayload;
  receivedAt: Date;
  receivedBy: string;
}

/** What one delivery did to the incidents. */
export interface IntakeResult {
  opened: string[];
  updated: string[];
  /** Incidents with new pages or timers (opened, reopened, auto-resolve scheduled): the engine wakes for these only. */
  timersChanged: string[];
}

/** An alert occurrence as stored, or as this batch will store it. */
export interface AlertState {
  fingerprint: string;
  startsAt: string;
  incidentId: string;
  status: 'firing' | 'resolved';
  alertname: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  endsAt: string | null;
  resolvedAt: Date | null;
  updatedAt: Date;
  /** Not in the database yet (inserted at the next flush). */
  isNew: boolean;
  /** Stored, with a status this batch changed (updated at the next flush). */
  changed: boolean;
}

/** An incident an alert of the batch may join, with what the choice and the auto-resolution need. */
export interface Candidate {
  row: IncidentRow;
  groups: Set<string>;
  fingerprints: Set<string>;
  firing: number;
  total: number;
  resolveAtChanged: boolean;
}

export interface IntakeEvent {
  incident: string;
  at: Date;
  type: string;
  actor: string | null;
  message: string;
  data: Record<string, unknown>;
}

export const alertKey = (fingerprint: string, startsAt: Date | string) => `${fingerprint}@${new Date(startsAt).getTime()}`;

const ALERT_COLUMNS = `fingerprint text, starts_at timestamptz, incident_id text, alertname text, labels jsonb, annotations jsonb,
  status text, ends_at timestamptz, resolved_at timestamptz, updated_at timestamptz`;

/** A batch's writes in one statement: each part runs whether or not its list is empty (an empty list writes nothing). */
const FLUSH = `WITH new_alerts AS (
    INSERT INTO incident_alerts (fingerprint, starts_at, incident_id, alertname, labels, annotations, status, ends_at, resolved_at, updated_at)
    SELECT x.fingerprint, x.starts_at, x.incident_id, x.alertname, x.labels, x.annotations, x.status, x.ends_at, x.resolved_at, x.updated_at
    FROM jsonb_to_recordset($1::jsonb) AS x(${ALERT_COLUMNS})
  ), changed_alerts AS (
    UPDATE incident_alerts a SET status = c.status, ends_at = c.ends_at, resolved_at = c.resolved_at, updated_at = c.updated_at
    FROM jsonb_to_recordset($2::jsonb) AS c(${ALERT_COLUMNS})
    WHERE a.fingerprint = c.fingerprint AND a.starts_at = c.starts_at
  ), links AS (
    INSERT INTO incident_alert_groups (group_key, incident_id, linked_at)
    SELECT l.group_key, l.incident_id, l.linked_at FROM jsonb_to_recordset($3::jsonb) AS l(group_key text, incident_id text, linked_at timestamptz)
    ON CONFLICT DO NOTHING
  )
  INSERT INTO incident_events (incident_id, at, type, actor, message, data)
  SELECT x.incident, x.at, x.type, x.actor, x.message, x.data
  FROM ROWS FROM (jsonb_to_recordset($4::jsonb) AS (incident text, at timestamptz, type text, actor text, message text, data jsonb))
    WITH ORDINALITY AS x(incident, at, type, actor, message, data, n)
  ORDER BY x.n`;

/** The lock that serialises deliveries of one alert group (across replicas). */
const GROUP_LOCK = 7340002;

/**
 * The state of one batch of deliveries inside its transaction: every alert occurrence and
 * every incident the batch may touch, read once up front (under the group locks), changed in
 * memory delivery by delivery in arrival order, and written in a few statements (`flush`).
 */
export class IntakeBatch {
  readonly alerts = new Map<string, AlertState>();
  readonly candidates = new Map<string, Candidate>();
  readonly links = new Map<string, { groupKey: string; incidentId: string; at: Date }>();
  readonly events: IntakeEvent[] = [];

  constructor(readonly m: EntityManager) {}

  /**
   * Locks the batch's groups (by their lock's hash, in order, so that two batches never wait on
   * each other in a cycle) and the incidents its alerts may touch, then reads their state: in
   * statements that start after the locks are held, so they see what the batches before them
   * committed (a count read in the statement that waited for a lock would predate it).
   */
  async load(deliveries: IntakeDelivery[], reopenWindowSeconds: number): Promise<void> {
    const groupKeys = [...new Set(deliveries.map((d) => d.payload.groupKey))];
    await this.m.query(
      `SELECT pg_advisory_xact_lock(${GROUP_LOCK}, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY h) s`,
      [groupKeys],
    );
    const all = deliveries.flatMap((d) =>
      d.payload.alerts.map((a) => ({ fingerprint: a.fingerprint.toLowerCase(), startsAt: a.startsAt })),
    );
    const fingerprints = [...new Set(all.map((a) => a.fingerprint))];
    const earliest = new Date(Math.min(...deliveries.map((d) => d.receivedAt.getTime())));
    const locked: { id: string }[] = await this.m.query(
      `SELECT i.id FROM incidents i WHERE (i.status <> 'resolved' OR i.resolved_at > $3::timestamptz - make_interval(secs => $4))
         AND (i.id IN (SELECT incident_id FROM incident_alert_groups WHERE group_key = ANY($1::text[]))
              OR i.id IN (SELECT incident_id FROM incident_alerts WHERE fingerprint = ANY($2::text[])))
       ORDER BY i.id FOR NO KEY UPDATE OF i`,
      [groupKeys, fingerprints, earliest, reopenWindowSeconds],
    );
    await this.loadAlerts(all);
    await this.loadCandidates(
      locked.map((r) => r.id),
      groupKeys,
      fingerprints,
    );
  }

  /** The batch's alert occurrences already stored (startsAt as stored, to the microsecond). */
  private async loadAlerts(all: { fingerprint: string; startsAt: string }[]): Promise<void> {
    const known: { fingerprint: string; starts_at: Date; stored_starts_at: string; incident_id: string; status: 'firing' | 'resolved' }[] =
      await this.m.query(
        `SELECT a.fingerprint, a.starts_at, a.starts_at::text AS stored_starts_at, a.incident_id, a.status FROM incident_alerts a
         JOIN unnest($1::text[], $2::timestamptz[]) AS k(fp, st) ON a.fingerprint = k.fp AND a.starts_at = k.st`,
        [all.map((a) => a.fingerprint), all.map((a) => a.startsAt)],
      );
    for (const row of known)
      this.alerts.set(alertKey(row.fingerprint, row.starts_at), {
        fingerprint: row.fingerprint,
        startsAt: row.stored_starts_at,
        incidentId: row.incident_id,
        status: row.status,
        alertname: null,
        labels: {},
        annotations: {},
        endsAt: null,
        resolvedAt: null,
        updatedAt: row.starts_at,
        isNew: false,
        changed: false,
      });
  }

  /** The locked incidents with their alert counts and what of the batch they already hold. */
  private async loadCandidates(ids: string[], groupKeys: string[], fingerprints: string[]): Promise<void> {
    if (!ids.length) return;
    const rows: (IncidentRow & { matched_groups: string[]; matched_fingerprints: string[]; n_firing: number; n_total: number })[] =
      await this.m.query(
        `SELECT i.*,
           ARRAY(SELECT g.group_key FROM incident_alert_groups g WHERE g.incident_id = i.id AND g.group_key = ANY($2::text[])) AS matched_groups,
           ARRAY(SELECT DISTINCT a.fingerprint FROM incident_alerts a WHERE a.incident_id = i.id AND a.fingerprint = ANY($3::text[])) AS matched_fingerprints,
           (SELECT count(*) FILTER (WHERE a.status = 'firing') FROM incident_alerts a WHERE a.incident_id = i.id)::int AS n_firing,
           (SELECT count(*) FROM incident_alerts a WHERE a.incident_id = i.id)::int AS n_total
         FROM incidents i WHERE i.id = ANY($1::text[]) ORDER BY i.id`,
        [ids, groupKeys, fingerprints],
      );
    for (const { matched_groups, matched_fingerprints, n_firing, n_total, ...row } of rows)
      this.addCandidate(row, { groups: matched_groups, fingerprints: matched_fingerprints, firing: n_firing, total: n_total });
  }

  addCandidate(row: IncidentRow, seen: { groups: string[]; fingerprints: string[]; firing: number; total: number }): Candidate {
    const candidate: Candidate = {
      row,
      groups: new Set(seen.groups),
      fingerprints: new Set(seen.fingerprints),
      firing: seen.firing,
      total: seen.total,
      resolveAtChanged: false,
    };
    this.candidates.set(row.id, candidate);
    return candidate;
  }

  /**
   * The incident new firing alerts of a group join: one linked to the group or holding one of
   * their fingerprints, open (or resolved within the reopen window); an open one first, then
   * the newest.
   */
  incidentFor(groupKey: string, fresh: Alert[], now: Date, reopenWindowSeconds: number): Candidate | undefined {
    const fingerprints = fresh.map((a) => a.fingerprint);
    const since = now.getTime() - reopenWindowSeconds * 1000;
    return [...this.candidates.values()]
      .filter((c) => c.row.status !== 'resolved' || (c.row.resolved_at !== null && new Date(c.row.resolved_at).getTime() > since))
      .filter((c) => c.groups.has(groupKey) || fingerprints.some((f) => c.fingerprints.has(f)))
      .sort(
        (a, b) =>
          Number(b.row.status !== 'resolved') - Number(a.row.status !== 'resolved') ||
          new Date(b.row.created_at).getTime() - new Date(a.row.created_at).getTime(),
      )[0];
  }

  link(groupKey: string, incidentId: string, at: Date): void {
    const key = `${incidentId} ${groupKey}`;
    if (!this.links.has(key)) this.links.set(key, { groupKey, incidentId, at });
    this.candidates.get(incidentId)?.groups.add(groupKey);
  }

  /** Writes what the batch changed so far: new and changed alerts, group links, timeline events (one statement), resolve times. */
  async flush(): Promise<void> {
    const fresh = [...this.alerts.values()].filter((a) => a.isNew);
    const changed = [...this.alerts.values()].filter((a) => a.changed && !a.isNew);
    const links = [...this.links.values()];
    const events = this.events.splice(0);
    this.links.clear();
    for (const a of [...fresh, ...changed]) {
      a.isNew = false;
      a.changed = false;
    }
    if (fresh.length || changed.length || links.length || events.length)
      await this.m.query(FLUSH, [
        JSON.stringify(fresh.map(alertRecord)),
        JSON.stringify(changed.map(alertRecord)),
        JSON.stringify(links.map((l) => ({ group_key: l.groupKey, incident_id: l.incidentId, linked_at: l.at }))),
        JSON.stringify(events),
      ]);
    const resolveTimes = [...this.candidates.values()].filter((c) => c.resolveAtChanged);
    if (resolveTimes.length)
      await this.m.query(
        'UPDATE incidents i SET resolve_at = x.at FROM unnest($1::text[], $2::timestamptz[]) AS x(id, at) WHERE i.id = x.id',
        [resolveTimes.map((c) => c.row.id), resolveTimes.map((c) => c.row.resolve_at)],
      );
    for (const c of resolveTimes) c.resolveAtChanged = false;
  }
}

function alertRecord(a: AlertState): Record<string, unknown> {
  return {
    fingerprint: a.fingerprint,
    starts_at: a.startsAt,
    incident_id: a.incidentId,
    alertname: a.alertname,
    labels: a.labels,
    annotations: a.annotations,
    status: a.status,
    ends_at: a.endsAt,
    resolved_at: a.resolvedAt,
    updated_at: a.updatedAt,
  };
}
