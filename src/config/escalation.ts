import { Inventory, Severity } from './inventory.schema';

/** Whom to call for a level, and for which of its situations (the runbook's escalation table). */
export interface Escalation {
  level: Severity;
  /** The row's situation, or null when nothing names one (the level's contacts then). */
  situation: string | null;
  contacts: string[];
  responseMinutes: number;
}

/**
 * The escalation table's row for a situation of a level (by its id), or the level itself when
 * no situation is named or the level has no such row (a procedure raised to another level).
 */
export function escalationOf(inventory: Pick<Inventory, 'escalation'>, level: Severity, situationId?: string | null): Escalation {
  const table = inventory.escalation[level];
  const row = situationId ? table.situations.find((s) => s.id === situationId) : undefined;
  return row
    ? { level, situation: row.situation, contacts: row.contacts, responseMinutes: row.responseMinutes }
    : { level, situation: null, contacts: table.contacts, responseMinutes: table.responseMinutes };
}

/** "escalate to A, B (P1, System down, 5 min)" */
export function escalationText(e: Escalation): string {
  return `${e.contacts.join(', ')} (${e.level}${e.situation ? `, ${e.situation}` : ''}, ${e.responseMinutes} min)`;
}

/** Why a situation id cannot be used at this level (null: a P4, which has no rows), or null when it can. */
export function situationProblem(inventory: Pick<Inventory, 'escalation'>, level: Severity | null, situationId: string): string | null {
  if (!level) return 'a P4 incident has no row in the escalation table (P1 to P3 have)';
  const ids = inventory.escalation[level].situations.map((s) => s.id);
  if (ids.includes(situationId)) return null;
  return ids.length
    ? `must be one of ${ids.join(', ')} (the ${level} rows of the escalation table)`
    : `the escalation table has no ${level} rows`;
}
