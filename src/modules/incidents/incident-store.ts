/**
 * The incidents' tables, written inside the caller's transaction (an EntityManager): ids,
 * timeline events, pages (the outbox) and acknowledge links. Raw SQL: every write here is
 * one statement whose WHERE clause is the guard against a second replica doing it too.
 */
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { IncidentSeverity } from '../../config/incidents.schema';
import { Contact, IncidentPolicy } from './oncall';

export type IncidentStatus = 'triggered' | 'acknowledged' | 'resolved';

export interface IncidentRow {
  id: string;
  title: string;
  severity: IncidentSeverity;
  component: string | null;
  status: IncidentStatus;
  source: 'alert' | 'manual';
  assignee: string | null;
  created_by: string;
  created_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  ack_expires_at: Date | null;
  first_acknowledged_at: Date | null;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolve_at: Date | null;
  policy: IncidentPolicy;
  escalation_round: number;
  escalation_step: number;
  next_escalation_at: Date | null;
  escalations: number;
  next_status_update_at: Date | null;
  last_status_update_at: Date | null;
  report_due_at: Date | null;
  report_submitted_at: Date | null;
  report_reminded_at: Date | null;
  report: string | null;
  suggested_procedure: string | null;
  suggested_parameters: Record<string, unknown> | null;
  plan: Record<string, unknown> | null;
  plan_run_id: string | null;
  version: number;
}

export type EventType =
  | 'opened'
  | 'alert_fired'
  | 'alert_resolved'
  | 'notification_sent'
  | 'notification_failed'
  | 'notification_cancelled'
  | 'escalated'
  | 'chain_exhausted'
  | 'nobody_on_call'
  | 'acknowledged'
  | 'ack_expired'
  | 'assigned'
  | 'note'
  | 'status_update'
  | 'status_update_due'
  | 'severity_changed'
  | 'plan_computed'
  | 'run_requested'
  | 'run_ended'
  | 'resolve_scheduled'
  | 'resolved'
  | 'reopened'
  | 'report_submitted'
  | 'report_late';

/** The timeline's entry, as stored. */
export interface EventRow {
  id: string;
  incident_id: string;
  at: Date;
  type: EventType;
  actor: string | null;
  message: string;
  data: Record<string, unknown>;
}

/** The day of `at` in the time zone, as YYYYMMDD and as a date. */
export function dayIn(at: Date, timeZone: string): { compact: string; iso: string } {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return { compact: `${get('year')}${get('month')}${get('day')}`, iso: `${get('year')}-${get('month')}-${get('day')}` };
}

/** INC-YYYYMMDD-NNN: the day's next number, from one row per day (one UPSERT: replicas never collide). */
export async function nextIncidentId(m: EntityManager, at: Date, timeZone: string): Promise<string> {
  const day = dayIn(at, timeZone);
  const rows: { last: number }[] = await m.query(
    `INSERT INTO incident_day_counters (day, last) VALUES ($1, 1)
     ON CONFLICT (day) DO UPDATE SET last = incident_day_counters.last + 1 RETURNING last`,
    [day.iso],
  );
  return `INC-${day.compact}-${String(rows[0].last).padStart(3, '0')}`;
}

export async function addEvent(
  m: EntityManager,
  incidentId: string,
  at: Date,
  type: EventType,
  message: string,
  actor: string | null = null,
  data: Record<string, unknown> = {},
): Promise<void> {
  await m.query('INSERT INTO incident_events (incident_id, at, type, actor, message, data) VALUES ($1, $2, $3, $4, $5, $6)', [
    incidentId,
    at,
    type,
    actor,
    message,
    JSON.stringify(data),
  ]);
}

/** What a page says. */
export interface PageContent {
  subject: string;
  body: string;
}

/**
 * Pages `contacts` for `reason` (unique per incident: a second replica asking for the same
 * page inserts nothing): one row per contact and channel, and for a person who signs in
 * (username) one single-use acknowledge link that expires at `linkExpiresAt`.
 * `content` builds each page's text given the link's id (or null). Returns the pages written.
 */
export async function addPages(
  m: EntityManager,
  incidentId: string,
  reason: string,
  contacts: Contact[],
  at: Date,
  linkExpiresAt: Date,
  content: (contact: Contact, linkId: string | null) => PageContent,
): Promise<number> {
  let written = 0;
  for (const contact of contacts) {
    const channels: { channel: 'chat' | 'email'; target: string }[] = [];
    if (contact.chat) channels.push({ channel: 'chat', target: contact.chat });
    if (contact.email) channels.push({ channel: 'email', target: contact.email });
    if (!channels.length) continue;
    let linkId: string | null = null;
    if (contact.username) {
      linkId = randomUUID();
      await m.query(
        'INSERT INTO incident_ack_links (id, incident_id, person, username, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [linkId, incidentId, contact.id, contact.username, linkExpiresAt, at],
      );
    }
    const text = content(contact, linkId);
    for (const { channel, target } of channels) {
      const rows: unknown[] = await m.query(
        `INSERT INTO incident_pages (id, incident_id, reason, person, channel, target, subject, body, ack_link_id, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10)
         ON CONFLICT ON CONSTRAINT incident_pages_once DO NOTHING RETURNING id`,
        [randomUUID(), incidentId, reason, contact.id, channel, target, text.subject, text.body, linkId, at],
      );
      written += rows.length;
    }
  }
  return written;
}

/** Cancels every page of the incident not yet sent; returns how many. */
export async function cancelPendingPages(m: EntityManager, incidentId: string): Promise<number> {
  const rows = await updated(
    m,
    "UPDATE incident_pages SET status = 'cancelled' WHERE incident_id = $1 AND status = 'pending' RETURNING id",
    [incidentId],
  );
  return rows.length;
}

/**
 * The rows an UPDATE or DELETE … RETURNING gave: TypeORM's PostgreSQL driver answers those
 * with [rows, affected] (INSERT and SELECT with the rows alone).
 */
export async function updated<T = Record<string, unknown>>(
  m: Pick<EntityManager, 'query'>,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const result: unknown = await m.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}

export async function lockIncident(m: EntityManager, id: string): Promise<IncidentRow | undefined> {
  const rows: IncidentRow[] = await m.query('SELECT * FROM incidents WHERE id = $1 FOR NO KEY UPDATE', [id]);
  return rows[0];
}
