import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { INVENTORY } from '../../config/config.module';
import { IncidentSeverity } from '../../config/incidents.schema';
import { Inventory } from '../../config/inventory.schema';
import { remediationForAlert } from '../../procedures/suggestions';
import { WebhookPayload } from '../alerts/public';
import { IncidentLifecycle } from './incident-lifecycle';
import { IncidentRow } from './incident-store';
import { higher, severityOf } from './oncall';

type Alert = WebhookPayload['alerts'][number];

interface KnownAlert {
  fingerprint: string;
  starts_at: Date;
  incident_id: string;
  status: 'firing' | 'resolved';
}

/** What one delivery did to the incidents. */
export interface IntakeResult {
  opened: string[];
  updated: string[];
  /** Incidents with new pages or timers (opened, reopened, auto-resolve scheduled): the engine wakes for these only. */
  timersChanged: string[];
}

interface IntakeEvent {
  incident: string;
  type: string;
  message: string;
  data: Record<string, unknown>;
}

const key = (fingerprint: string, startsAt: Date | string) => `${fingerprint}@${new Date(startsAt).getTime()}`;

/**
 * Alertmanager's notifications → incidents, inside the transaction that stores the
 * notification (the webhook answers 2xx only after both are stored). An alert occurrence is
 * its fingerprint and startsAt (not the group key, which changes when routes change): a
 * retry or an HA peer's copy finds every alert known and changes nothing. Deliveries of one
 * group are serialised by an advisory lock on the group key; an occurrence stored twice by
 * two groups at once is refused by the primary key (the caller retries the delivery).
 */
@Injectable()
export class IncidentIntake {
  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    private readonly lifecycle: IncidentLifecycle,
  ) {}

  async intake(m: EntityManager, payload: WebhookPayload, now: Date, receivedBy: string): Promise<IntakeResult> {
    await m.query('SELECT pg_advisory_xact_lock(7340002, hashtext($1))', [payload.groupKey]);
    const alerts = payload.alerts.map((a) => ({ ...a, fingerprint: a.fingerprint.toLowerCase() }));
    const known = new Map<string, KnownAlert>(
      (
        (await m.query(
          `SELECT a.fingerprint, a.starts_at, a.incident_id, a.status FROM incident_alerts a
           JOIN unnest($1::text[], $2::timestamptz[]) AS k(fp, st) ON a.fingerprint = k.fp AND a.starts_at = k.st`,
          [alerts.map((a) => a.fingerprint), alerts.map((a) => a.startsAt)],
        )) as KnownAlert[]
      ).map((row) => [key(row.fingerprint, row.starts_at), row]),
    );
    const result: IntakeResult = { opened: [], updated: [], timersChanged: [] };
    const touched = new Set<string>();
    const events: IntakeEvent[] = [];

    // Alerts already stored: only a change of status matters (a retry changes nothing).
    await this.storeChanges(m, alerts, known, now, touched, events);

    // New firing occurrences join the group's incident (open, or resolved within the reopen window) or open one.
    const fresh = alerts.filter((a) => a.status === 'firing' && !known.has(key(a.fingerprint, a.startsAt)));
    if (fresh.length) {
      let incident = await this.incidentOf(m, payload.groupKey, fresh, now);
      if (!incident) {
        incident = await this.lifecycle.open(m, this.openInput(payload, fresh, receivedBy), now);
        result.opened.push(incident.id);
      } else if (incident.status === 'resolved') {
        await this.lifecycle.reopen(m, incident, receivedBy, now, `Reopened: ${fresh.length} alert(s) of its group fire again`);
        result.timersChanged.push(incident.id);
      }
      await m.query(
        `INSERT INTO incident_alerts (fingerprint, starts_at, incident_id, alertname, labels, annotations, status, ends_at, updated_at)
         SELECT x.fingerprint, x.starts_at, $2, x.alertname, x.labels, x.annotations, 'firing', NULL, $3
         FROM jsonb_to_recordset($1::jsonb) AS x(fingerprint text, starts_at timestamptz, alertname text, labels jsonb, annotations jsonb)`,
        [
          JSON.stringify(
            fresh.map((a) => ({
              fingerprint: a.fingerprint,
              starts_at: a.startsAt,
              alertname: a.labels.alertname ?? null,
              labels: a.labels,
              annotations: a.annotations,
            })),
          ),
          incident.id,
          now,
        ],
      );
      touched.add(incident.id);
      for (const a of fresh) events.push({ incident: incident.id, type: 'alert_fired', message: describe(a), data: alertData(a) });
    }
    for (const id of touched)
      await m.query('INSERT INTO incident_alert_groups (group_key, incident_id, linked_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        payload.groupKey,
        id,
        now,
      ]);
    if (events.length)
      await m.query(
        `INSERT INTO incident_events (incident_id, at, type, actor, message, data)
         SELECT x.incident, $2, x.type, $3, x.message, x.data FROM jsonb_to_recordset($1::jsonb) AS x(incident text, type text, message text, data jsonb)`,
        [JSON.stringify(events), now, receivedBy],
      );
    for (const id of touched) {
      if (await this.scheduleAutoResolve(m, id, now)) result.timersChanged.push(id);
      if (!result.opened.includes(id)) result.updated.push(id);
    }
    result.timersChanged.unshift(...result.opened);
    return result;
  }

  private async storeChanges(
    m: EntityManager,
    alerts: Alert[],
    known: Map<string, KnownAlert>,
    now: Date,
    touched: Set<string>,
    events: IntakeEvent[],
  ): Promise<void> {
    const changed = alerts.filter((a) => {
      const row = known.get(key(a.fingerprint, a.startsAt));
      return row && row.status !== a.status;
    });
    if (changed.length) {
      await m.query(
        `UPDATE incident_alerts a SET status = c.status, ends_at = c.ends_at, updated_at = $4,
           resolved_at = CASE WHEN c.status = 'resolved' THEN $4::timestamptz ELSE NULL END
         FROM unnest($1::text[], $2::timestamptz[], $3::text[], $5::timestamptz[]) AS c(fp, st, status, ends_at)
         WHERE a.fingerprint = c.fp AND a.starts_at = c.st`,
        [
          changed.map((a) => a.fingerprint),
          changed.map((a) => a.startsAt),
          changed.map((a) => a.status),
          now,
          changed.map((a) => endOf(a)),
        ],
      );
      for (const a of changed) {
        const incident = known.get(key(a.fingerprint, a.startsAt))!.incident_id;
        touched.add(incident);
        events.push({
          incident,
          type: a.status === 'resolved' ? 'alert_resolved' : 'alert_fired',
          message: describe(a),
          data: alertData(a),
        });
      }
    }
  }

  private async incidentOf(m: EntityManager, groupKey: string, fresh: Alert[], now: Date): Promise<IncidentRow | undefined> {
    const window = this.lifecycle.policy('P1').reopenWindowSeconds;
    const rows: IncidentRow[] = await m.query(
      `SELECT i.* FROM incidents i WHERE (i.status <> 'resolved' OR i.resolved_at > $3::timestamptz - make_interval(secs => $4))
         AND (i.id IN (SELECT incident_id FROM incident_alert_groups WHERE group_key = $1)
              OR i.id IN (SELECT incident_id FROM incident_alerts WHERE fingerprint = ANY($2::text[])))
       ORDER BY (i.status <> 'resolved') DESC, i.created_at DESC LIMIT 1 FOR UPDATE OF i`,
      [groupKey, fresh.map((a) => a.fingerprint), now, window],
    );
    return rows[0];
  }

  private openInput(payload: WebhookPayload, fresh: Alert[], receivedBy: string) {
    const severity = fresh
      .map((a) => severityOf(a.labels, this.inventory.incidents.severityRules))
      .reduce<IncidentSeverity>((a, b) => higher(a, b), 'P4');
    const first = fresh[0];
    const alertname = payload.commonLabels.alertname ?? first.labels.alertname ?? null;
    const summary = payload.commonAnnotations.summary ?? first.annotations.summary ?? null;
    const component = payload.commonLabels.component ?? first.labels.component ?? null;
    const procedure = remediationForAlert(alertname ?? undefined) ?? null;
    return {
      title: [alertname, summary].filter(Boolean).join(': ') || `Alert group ${payload.groupKey}`,
      severity,
      component,
      source: 'alert' as const,
      createdBy: receivedBy,
      suggestedProcedure: procedure,
      suggestedParameters: {},
      message: `Opened from Alertmanager (receiver ${payload.receiver}): ${fresh.length} firing alert(s) of group ${payload.groupKey}`,
      data: { groupKey: payload.groupKey, receiver: payload.receiver, alertname, labels: payload.commonLabels },
    };
  }

  /**
   * All alerts of the incident resolved → it resolves itself after the grace (the timer
   * does it); one fires again → that is cancelled. Answers whether a resolution was scheduled.
   */
  async scheduleAutoResolve(m: EntityManager, id: string, now: Date): Promise<boolean> {
    const rows: { firing: number; total: number; status: string; resolve_at: Date | null; grace: number }[] = await m.query(
      `SELECT count(*) FILTER (WHERE a.status = 'firing')::int AS firing, count(a.*)::int AS total, i.status, i.resolve_at,
              (i.policy ->> 'resolveGraceSeconds')::int AS grace
       FROM incidents i LEFT JOIN incident_alerts a ON a.incident_id = i.id WHERE i.id = $1 GROUP BY i.id`,
      [id],
    );
    const row = rows[0];
    if (!row || row.status === 'resolved' || row.total === 0) return false;
    if (row.firing === 0 && !row.resolve_at) {
      const at = new Date(now.getTime() + row.grace * 1000);
      await m.query('UPDATE incidents SET resolve_at = $2 WHERE id = $1', [id, at]);
      await m.query("INSERT INTO incident_events (incident_id, at, type, message, data) VALUES ($1, $2, 'resolve_scheduled', $3, $4)", [
        id,
        now,
        `All alerts resolved; the incident resolves itself at ${at.toISOString()} unless one fires again`,
        JSON.stringify({ resolveAt: at }),
      ]);
      return true;
    }
    if (row.firing > 0 && row.resolve_at) await m.query('UPDATE incidents SET resolve_at = NULL WHERE id = $1', [id]);
    return false;
  }
}

function endOf(a: Alert): string | null {
  return a.endsAt.startsWith('0001-') ? null : a.endsAt;
}

function describe(a: Alert): string {
  const name = a.labels.alertname ?? 'alert';
  const summary = a.annotations.summary ? `: ${a.annotations.summary}` : '';
  return `${name} ${a.status}${summary}`;
}

function alertData(a: Alert): Record<string, unknown> {
  return { fingerprint: a.fingerprint, startsAt: a.startsAt, endsAt: a.endsAt, labels: a.labels };
}
