/**
 * Reading an incident and what is attached to it (alert groups, alerts, runs, pages,
 * timeline), through the caller's connection or transaction.
 */
import { DataSource, EntityManager } from 'typeorm';
import { DomainError, ErrorCode } from '../../common/errors';
import { EventRow, IncidentRow } from './incident-store';

type Queryable = Pick<DataSource | EntityManager, 'query'>;

/** An incident and what is attached to it, as of one moment. */
export interface IncidentSnapshot {
  row: IncidentRow;
  groupKeys: string[];
  alerts: Record<string, unknown>[];
  runs: Record<string, unknown>[];
  notifications: Record<string, unknown>[];
  timeline: EventRow[];
}

export async function readIncident(db: Queryable, id: string): Promise<IncidentRow> {
  const rows: IncidentRow[] = await db.query('SELECT * FROM incidents WHERE id = $1', [id]);
  if (!rows[0]) throw new DomainError(ErrorCode.NotFound, `incident ${id} does not exist`, { incident: id });
  return rows[0];
}

/** Up to 1000 timeline events after `afterId`, oldest first. */
export function readTimeline(db: Queryable, id: string, afterId: number): Promise<EventRow[]> {
  return db.query('SELECT * FROM incident_events WHERE incident_id = $1 AND id > $2 ORDER BY id LIMIT 1000', [id, afterId]);
}

/** Everything about one incident; one snapshot only inside a REPEATABLE READ transaction (the caller's). */
export async function readSnapshot(m: EntityManager, id: string): Promise<IncidentSnapshot> {
  const row = await readIncident(m, id);
  const groups: { group_key: string }[] = await m.query(
    'SELECT group_key FROM incident_alert_groups WHERE incident_id = $1 ORDER BY linked_at',
    [id],
  );
  const alerts = await m.query('SELECT * FROM incident_alerts WHERE incident_id = $1 ORDER BY starts_at, fingerprint', [id]);
  const runs = await m.query('SELECT * FROM incident_runs WHERE incident_id = $1 ORDER BY requested_at', [id]);
  const notifications = await m.query(
    'SELECT id, reason, person, channel, target, status, attempts, created_at, sent_at, error FROM incident_pages WHERE incident_id = $1 ORDER BY created_at, person, channel',
    [id],
  );
  const timeline = await readTimeline(m, id, 0);
  return { row, groupKeys: groups.map((g) => g.group_key), alerts, runs, notifications, timeline };
}
