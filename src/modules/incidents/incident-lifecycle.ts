import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG, INVENTORY } from '../../config/config.module';
import { IncidentSeverity } from '../../config/incidents.schema';
import { Inventory } from '../../config/inventory.schema';
import { MASTER_KEY, MasterKey } from '../../config/master-key';
import { addEvent, addPages, cancelPendingPages, IncidentRow, nextIncidentId } from './incident-store';
import { Contact, contactsOf, IncidentPolicy, nextStep, policyFor } from './oncall';
import { localLabel } from './oncall-hours';

export interface OpenInput {
  title: string;
  severity: IncidentSeverity;
  component: string | null;
  source: 'alert' | 'manual';
  createdBy: string;
  assignee?: string | null;
  suggestedProcedure: string | null;
  suggestedParameters?: Record<string, unknown> | null;
  /** The escalation table's row (its id at the incident's level) it is opened for. */
  situation?: string | null;
  /** The opening event's text and data. */
  message: string;
  data?: Record<string, unknown>;
}

const addSeconds = (at: Date, seconds: number) => new Date(at.getTime() + seconds * 1000);

/**
 * The state changes of an incident, each inside the caller's transaction and each guarded by
 * its WHERE clause (status, round, step, due time), so that a timer fires once whichever
 * replica and however many replicas try. Pages go to the outbox (incident_pages) in the same
 * transaction; the escalation engine sends them.
 */
@Injectable()
export class IncidentLifecycle {
  constructor(
    @Inject(INVENTORY) private readonly inventory: Inventory,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MASTER_KEY) private readonly masterKey: MasterKey,
  ) {}

  get timeZone(): string {
    return this.inventory.timezone;
  }

  policy(severity: IncidentSeverity, situation?: string | null): IncidentPolicy {
    return policyFor(severity, this.inventory, this.config.OPS_INCIDENT_TIME_SCALE, situation);
  }

  /** The one-click link's token: the link's id and its HMAC under the master key. */
  linkToken(linkId: string): string {
    const mac = this.masterKey.hmac('incident-links').update(linkId).digest('base64url');
    return `${linkId}.${mac}`;
  }

  linkUrl(linkId: string): string {
    return `${this.inventory.incidents.publicUrl.replace(/\/+$/, '')}/api/v1/incidents/ack/${this.linkToken(linkId)}`;
  }

  /** Opens an incident and pages its chain's first step. */
  async open(m: EntityManager, input: OpenInput, now: Date): Promise<IncidentRow> {
    const id = await nextIncidentId(m, now, this.timeZone);
    const policy = this.policy(input.severity, input.situation);
    const first = policy.steps[0];
    const rows: IncidentRow[] = await m.query(
      `INSERT INTO incidents (id, title, severity, component, status, source, assignee, created_by, created_at, policy,
         escalation_round, escalation_step, next_escalation_at, next_status_update_at, suggested_procedure, suggested_parameters)
       VALUES ($1, $2, $3, $4, 'triggered', $5, $6, $7, $8, $9, 0, 0, $10, $11, $12, $13) RETURNING *`,
      [
        id,
        input.title.slice(0, 500),
        input.severity,
        input.component,
        input.source,
        input.assignee ?? null,
        input.createdBy,
        now,
        JSON.stringify(policy),
        policy.escalates ? addSeconds(now, first.waitSeconds) : null,
        policy.statusUpdateSeconds ? addSeconds(now, policy.statusUpdateSeconds) : null,
        input.suggestedProcedure,
        input.suggestedParameters ? JSON.stringify(input.suggestedParameters) : null,
      ],
    );
    const incident = rows[0];
    await addEvent(m, id, now, 'opened', input.message, input.createdBy, { severity: input.severity, source: input.source, ...input.data });
    await this.pageStep(m, incident, 0, 0, 'page:0', now);
    return incident;
  }

  /**
   * Pages step `step` of round `round` of the incident's chain (its level's contacts as on call
   * now). When nobody is on call with a channel (rotations outside their hours or not started,
   * people without a chat handle or e-mail), the timeline says so; the chain goes on at the
   * step's response time.
   */
  async pageStep(m: EntityManager, incident: IncidentRow, round: number, step: number, reason: string, now: Date): Promise<Contact[]> {
    const policy = incident.policy;
    const { level, waitSeconds } = policy.steps[step];
    const contacts = contactsOf(policy, level, now, this.inventory.notifications, this.inventory.timezone);
    const expires = addSeconds(now, waitSeconds);
    await addPages(m, incident.id, reason, contacts, now, expires, (contact, linkId) =>
      this.content(incident, level, contact, linkId, expires),
    );
    if (!contacts.some((c) => c.chat || c.email))
      await addEvent(
        m,
        incident.id,
        now,
        'nobody_on_call',
        `Nobody on call at level ${level} (${policy.levels[level].join(', ')}) at ${localLabel(now, this.inventory.timezone)} ${this.inventory.timezone}: nobody was paged at this step${policy.escalates ? `; the chain moves on after its response time (${waitSeconds} s)` : ''}`,
        null,
        { level, round, step, contacts: policy.levels[level], reached: contacts.map((c) => c.id) },
      );
    return contacts;
  }

  private content(incident: IncidentRow, level: string, contact: Contact, linkId: string | null, expires: Date) {
    const lines = [
      `${contact.id === 'team' ? '' : `${contact.chat ?? contact.name}: `}${incident.severity} incident ${incident.id}: ${incident.title}`,
      `Component: ${incident.component ?? 'unknown'}; status ${incident.status}; paged as level ${level} (${contact.via}).`,
      incident.suggested_procedure ? `Suggested procedure: ${incident.suggested_procedure} (its dry-run plan is on the incident).` : '',
      linkId
        ? `Acknowledge (as ${contact.username}, until ${expires.toISOString()}): ${this.linkUrl(linkId)}`
        : `Acknowledge: POST /api/v1/incidents/${incident.id}/acknowledge`,
      contact.phone ? `Phone: ${contact.phone}` : '',
      `Details: GET /api/v1/incidents/${incident.id}`,
    ];
    return { subject: `[${incident.severity}] ${incident.id}: ${incident.title}`, body: lines.filter(Boolean).join('\n') };
  }

  /**
   * The escalation timer: when (round, step) is still the incident's position and it is due,
   * moves to the next step and pages it (or ends the chain). Returns whether it fired.
   */
  async escalate(m: EntityManager, id: string, now: Date, force = false, actor: string | null = null): Promise<boolean> {
    const rows: IncidentRow[] = await m.query(
      `SELECT * FROM incidents WHERE id = $1 AND status = 'triggered' ${force ? '' : 'AND next_escalation_at <= $2'} FOR NO KEY UPDATE`,
      force ? [id] : [id, now],
    );
    const incident = rows[0];
    if (!incident) return false;
    const next = nextStep(incident.policy, incident.escalation_round, incident.escalation_step);
    if (!next) {
      await m.query('UPDATE incidents SET next_escalation_at = NULL WHERE id = $1', [id]);
      await addEvent(m, id, now, 'chain_exhausted', 'The escalation chain has run out; nobody acknowledged', actor, {
        rounds: incident.escalation_round + 1,
      });
      return true;
    }
    const step = incident.policy.steps[next.step];
    const escalations = incident.escalations + 1;
    await m.query(
      'UPDATE incidents SET escalation_round = $2, escalation_step = $3, escalations = $4, next_escalation_at = $5 WHERE id = $1',
      [id, next.round, next.step, escalations, addSeconds(now, step.waitSeconds)],
    );
    const contacts = await this.pageStep(m, { ...incident, status: 'triggered' }, next.round, next.step, `page:${escalations}`, now);
    await addEvent(
      m,
      id,
      now,
      'escalated',
      `${force ? 'Escalated by hand' : 'Not acknowledged in time'}: paging level ${step.level} (round ${next.round + 1}, step ${next.step + 1}): ${contacts.map((c) => c.name).join(', ') || 'nobody reachable'}`,
      actor,
      { round: next.round, step: next.step, level: step.level, contacts: contacts.map((c) => c.id) },
    );
    return true;
  }

  /** Acknowledged: the chain stops (pending pages cancelled) until the acknowledgement lapses. */
  async acknowledge(m: EntityManager, incident: IncidentRow, by: string, now: Date, via: string): Promise<void> {
    await m.query(
      `UPDATE incidents SET status = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3, ack_expires_at = $4,
         first_acknowledged_at = COALESCE(first_acknowledged_at, $2), next_escalation_at = NULL,
         assignee = COALESCE(assignee, $3), version = version + 1 WHERE id = $1`,
      [incident.id, now, by, addSeconds(now, incident.policy.ackTimeoutSeconds)],
    );
    const cancelled = await cancelPendingPages(m, incident.id);
    await addEvent(
      m,
      incident.id,
      now,
      'acknowledged',
      `Acknowledged by ${by} (${via})${cancelled ? `; ${cancelled} pending notifications cancelled` : ''}`,
      by,
      {
        via,
        cancelledNotifications: cancelled,
      },
    );
  }

  /** An acknowledgement that lapsed: triggered again, the chain starts over from its first step. */
  async ackExpired(m: EntityManager, id: string, now: Date): Promise<boolean> {
    const rows: IncidentRow[] = await m.query(
      "SELECT * FROM incidents WHERE id = $1 AND status = 'acknowledged' AND ack_expires_at <= $2 FOR NO KEY UPDATE",
      [id, now],
    );
    const incident = rows[0];
    if (!incident) return false;
    const escalations = incident.escalations + 1;
    await m.query(
      `UPDATE incidents SET status = 'triggered', ack_expires_at = NULL, escalation_round = 0, escalation_step = 0, escalations = $2,
         next_escalation_at = $3, version = version + 1 WHERE id = $1`,
      [id, escalations, incident.policy.escalates ? addSeconds(now, incident.policy.steps[0].waitSeconds) : null],
    );
    await addEvent(
      m,
      id,
      now,
      'ack_expired',
      `The acknowledgement by ${incident.acknowledged_by} lapsed without a resolution; paging again`,
      null,
    );
    await this.pageStep(m, { ...incident, status: 'triggered' }, 0, 0, `page:${escalations}`, now);
    return true;
  }

  async resolve(m: EntityManager, incident: IncidentRow, by: string, now: Date, message: string): Promise<void> {
    const due = incident.policy.reportDueSeconds;
    await m.query(
      `UPDATE incidents SET status = 'resolved', resolved_at = $2, resolved_by = $3, next_escalation_at = NULL, ack_expires_at = NULL,
         next_status_update_at = NULL, resolve_at = NULL, report_due_at = COALESCE(report_due_at, $4), version = version + 1 WHERE id = $1`,
      [incident.id, now, by, due ? addSeconds(now, due) : null],
    );
    const cancelled = await cancelPendingPages(m, incident.id);
    await addEvent(m, incident.id, now, 'resolved', message, by, { cancelledNotifications: cancelled });
  }

  /** Reopened: triggered again with its chain from the start. */
  async reopen(m: EntityManager, incident: IncidentRow, by: string, now: Date, message: string): Promise<void> {
    const policy = incident.policy;
    const escalations = incident.escalations + 1;
    await m.query(
      `UPDATE incidents SET status = 'triggered', resolved_at = NULL, resolved_by = NULL, resolve_at = NULL, acknowledged_at = NULL,
         acknowledged_by = NULL, ack_expires_at = NULL, escalation_round = 0, escalation_step = 0, escalations = $2,
         next_escalation_at = $3, next_status_update_at = $4, version = version + 1 WHERE id = $1`,
      [
        incident.id,
        escalations,
        policy.escalates ? addSeconds(now, policy.steps[0].waitSeconds) : null,
        policy.statusUpdateSeconds ? addSeconds(now, policy.statusUpdateSeconds) : null,
      ],
    );
    await addEvent(m, incident.id, now, 'reopened', message, by);
    await this.pageStep(m, { ...incident, status: 'triggered' }, 0, 0, `page:${escalations}`, now);
  }

  /** A P1/P2 status update is due: remind whoever holds the incident (the assignee, else the current step's contacts). */
  async statusUpdateDue(m: EntityManager, id: string, now: Date): Promise<boolean> {
    const rows: IncidentRow[] = await m.query(
      "SELECT * FROM incidents WHERE id = $1 AND status <> 'resolved' AND next_status_update_at <= $2 FOR NO KEY UPDATE",
      [id, now],
    );
    const incident = rows[0];
    if (!incident?.policy.statusUpdateSeconds) return false;
    const due = incident.next_status_update_at!;
    await m.query('UPDATE incidents SET next_status_update_at = $2 WHERE id = $1', [
      id,
      addSeconds(now, incident.policy.statusUpdateSeconds),
    ]);
    await addEvent(
      m,
      id,
      now,
      'status_update_due',
      `A status update was due at ${due.toISOString()} (every ${incident.policy.statusUpdateSeconds} s for ${incident.severity})`,
    );
    await this.remind(
      m,
      incident,
      `status:${due.getTime()}`,
      now,
      `Status update due for ${incident.id}: post one with POST /api/v1/incidents/${incident.id}/status-updates`,
    );
    return true;
  }

  /** The incident report of a resolved P1/P2 is late: one reminder. */
  async reportLate(m: EntityManager, id: string, now: Date): Promise<boolean> {
    const rows: IncidentRow[] = await m.query(
      `SELECT * FROM incidents WHERE id = $1 AND status = 'resolved' AND report_due_at <= $2 AND report_submitted_at IS NULL
         AND report_reminded_at IS NULL FOR NO KEY UPDATE`,
      [id, now],
    );
    const incident = rows[0];
    if (!incident) return false;
    await m.query('UPDATE incidents SET report_reminded_at = $2 WHERE id = $1', [id, now]);
    await addEvent(m, id, now, 'report_late', `The incident report was due at ${incident.report_due_at!.toISOString()} and is missing`);
    await this.remind(
      m,
      incident,
      'report-late',
      now,
      `The incident report of ${incident.id} is late: submit it with POST /api/v1/incidents/${incident.id}/report`,
    );
    return true;
  }

  private async remind(m: EntityManager, incident: IncidentRow, reason: string, now: Date, text: string): Promise<void> {
    const policy = incident.policy;
    const holder = incident.assignee
      ? policy.people.find((p) => p.username === incident.assignee || p.id === incident.assignee)
      : undefined;
    const contacts = holder
      ? [{ ...holder, username: undefined, via: 'assignee' }]
      : contactsOf(policy, policy.steps[incident.escalation_step].level, now, this.inventory.notifications, this.inventory.timezone).map(
          (c) => ({
            ...c,
            username: undefined,
          }),
        );
    await addPages(m, incident.id, reason, contacts, now, now, () => ({
      subject: `[${incident.severity}] ${incident.id}: reminder`,
      body: text,
    }));
    if (!contacts.some((c) => c.chat || c.email)) {
      const level = policy.steps[incident.escalation_step].level;
      const who = holder ? `the assignee ${holder.id} has no chat handle or e-mail` : `nobody is on call at level ${level}`;
      await addEvent(
        m,
        incident.id,
        now,
        'nobody_on_call',
        `Nobody to remind at ${localLabel(now, this.inventory.timezone)} ${this.inventory.timezone}: ${who}`,
        null,
        { level, reminder: reason, contacts: holder ? [holder.id] : policy.levels[level], reached: [] },
      );
    }
  }
}
