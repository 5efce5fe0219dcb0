import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { INVENTORY } from '../../config/config.module';
import { IncidentSeverity } from '../../config/incidents.schema';
import { Inventory } from '../../config/inventory.schema';
import { remediationForAlert } from '../../procedures/suggestions';
import { WebhookPayload } from '../alerts/public';
import { IncidentLifecycle } from './incident-lifecycle';
import { IncidentRow } from './incident-store';
import { alertKey, IntakeBatch, IntakeDelivery, IntakeEvent, IntakeResult } from './intake-batch';
import { higher, severityOf } from './oncall';

type Alert = WebhookPayload['alerts'][number];

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

  /** Turns a batch of new deliveries, in arrival order, into incidents: one result per delivery. */
  async intakeMany(m: EntityManager, deliveries: IntakeDelivery[]): Promise<IntakeResult[]> {
    const window = this.lifecycle.policy('P1').reopenWindowSeconds;
    const batch = new IntakeBatch(m);
    await batch.load(deliveries, window);
    const results: IntakeResult[] = [];
    for (const delivery of deliveries) results.push(await this.intakeOne(batch, delivery, window));
    await batch.flush();
    return results;
  }

  private async intakeOne(batch: IntakeBatch, delivery: IntakeDelivery, window: number): Promise<IntakeResult> {
    const { payload, receivedAt: now, receivedBy } = delivery;
    const alerts = uniqueAlerts(payload.alerts);
    const result: IntakeResult = { opened: [], updated: [], timersChanged: [] };
    const touched = new Set<string>();

    // Alerts already stored: only a change of status matters (a retry changes nothing).
    for (const a of alerts) {
      const state = batch.alerts.get(alertKey(a.fingerprint, a.startsAt));
      if (!state || state.status === a.status) continue;
      Object.assign(state, {
        status: a.status,
        endsAt: endOf(a),
        resolvedAt: a.status === 'resolved' ? now : null,
        updatedAt: now,
        changed: true,
      });
      const candidate = batch.candidates.get(state.incidentId);
      if (candidate) candidate.firing += a.status === 'firing' ? 1 : -1;
      touched.add(state.incidentId);
      batch.events.push(event(state.incidentId, now, receivedBy, a));
    }

    // New firing occurrences join the group's incident (open, or resolved within the reopen window) or open one.
    const fresh = alerts.filter((a) => a.status === 'firing' && !batch.alerts.has(alertKey(a.fingerprint, a.startsAt)));
    if (fresh.length) {
      let incident = batch.incidentFor(payload.groupKey, fresh, now, window);
      if (!incident) {
        await batch.flush(); // the timeline stays in order: what came before, then the incident's opening
        const row = await this.lifecycle.open(batch.m, this.openInput(payload, fresh, receivedBy), now);
        incident = batch.addCandidate(row, { groups: [], fingerprints: [], firing: 0, total: 0 });
        result.opened.push(row.id);
      } else if (incident.row.status === 'resolved') {
        await batch.flush();
        await this.lifecycle.reopen(batch.m, incident.row, receivedBy, now, `Reopened: ${fresh.length} alert(s) of its group fire again`);
        incident.row = ((await batch.m.query('SELECT * FROM incidents WHERE id = $1', [incident.row.id])) as IncidentRow[])[0];
        result.timersChanged.push(incident.row.id);
      }
      for (const a of fresh) {
        batch.alerts.set(alertKey(a.fingerprint, a.startsAt), {
          fingerprint: a.fingerprint,
          startsAt: a.startsAt,
          incidentId: incident.row.id,
          status: 'firing',
          alertname: a.labels.alertname ?? null,
          labels: a.labels,
          annotations: a.annotations,
          endsAt: null,
          resolvedAt: null,
          updatedAt: now,
          isNew: true,
          changed: false,
        });
        incident.fingerprints.add(a.fingerprint);
        incident.firing++;
        incident.total++;
        batch.events.push(event(incident.row.id, now, receivedBy, a));
      }
      touched.add(incident.row.id);
    }
    for (const id of touched) batch.link(payload.groupKey, id, now);
    for (const id of touched) {
      if (this.autoResolve(batch, id, now)) result.timersChanged.push(id);
      if (!result.opened.includes(id)) result.updated.push(id);
    }
    result.timersChanged.unshift(...result.opened);
    return result;
  }

  /** scheduleAutoResolve on the batch's state: answers whether a resolution was scheduled. */
  private autoResolve(batch: IntakeBatch, id: string, now: Date): boolean {
    const c = batch.candidates.get(id);
    if (!c || c.row.status === 'resolved' || c.total === 0) return false;
    if (c.firing === 0 && !c.row.resolve_at) {
      const at = new Date(now.getTime() + c.row.policy.resolveGraceSeconds * 1000);
      c.row.resolve_at = at;
      c.resolveAtChanged = true;
      batch.events.push({
        incident: id,
        at: now,
        type: 'resolve_scheduled',
        actor: null,
        message: resolveMessage(at),
        data: { resolveAt: at },
      });
      return true;
    }
    if (c.firing > 0 && c.row.resolve_at) {
      c.row.resolve_at = null;
      c.resolveAtChanged = true;
    }
    return false;
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
        resolveMessage(at),
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

function resolveMessage(at: Date): string {
  return `All alerts resolved; the incident resolves itself at ${at.toISOString()} unless one fires again`;
}

/** The payload's alerts, fingerprints in lower case, each occurrence once. */
function uniqueAlerts(alerts: Alert[]): Alert[] {
  const seen = new Map<string, Alert>();
  for (const a of alerts) {
    const alert = { ...a, fingerprint: a.fingerprint.toLowerCase() };
    seen.set(alertKey(alert.fingerprint, alert.startsAt), alert);
  }
  return [...seen.values()];
}

function event(incident: string, at: Date, actor: string, a: Alert): IntakeEvent {
  return {
    incident,
    at,
    type: a.status === 'resolved' ? 'alert_resolved' : 'alert_fired',
    actor,
    message: describe(a),
    data: alertData(a),
  };
}

function describe(a: Alert): string {
  const name = a.labels.alertname ?? 'alert';
  const summary = a.annotations.summary ? `: ${a.annotations.summary}` : '';
  return `${name} ${a.status}${summary}`;
}

function alertData(a: Alert): Record<string, unknown> {
  return { fingerprint: a.fingerprint, startsAt: a.startsAt, endsAt: a.endsAt, labels: a.labels };
}
