import { Severity } from '../../config/inventory.schema';
import { CheckResult, Verdict } from './check';

/** The runbook's "Daily Startup Checklist", plus the hourly key metrics and the backups. */
export interface ChecklistItemDefinition {
  id: string;
  /** The runbook's wording. */
  title: string;
  /** Whom to escalate to when it fails. */
  severity: Severity;
  /** The escalation table's row (its id) at that level, when the item's failure is one of its situations. */
  situation?: string;
}

export const CHECKLIST_ITEMS: ChecklistItemDefinition[] = [
  { id: 'services', title: 'All services running (docker-compose ps shows all "Up")', severity: 'P1', situation: 'system-down' },
  { id: 'logs', title: 'No error logs in services', severity: 'P3' },
  { id: 'database', title: 'Database connectivity verified', severity: 'P1', situation: 'system-down' },
  { id: 'api', title: 'API health endpoint responding', severity: 'P1', situation: 'system-down' },
  { id: 'prometheus', title: 'Prometheus metrics flowing', severity: 'P2' },
  { id: 'grafana', title: 'Grafana dashboards updating', severity: 'P3' },
  { id: 'kibana', title: 'Kibana receiving logs', severity: 'P3' },
  { id: 'metrics', title: 'Key metrics within thresholds (Service Health Monitoring)', severity: 'P2' },
  { id: 'backups', title: 'Newest verified backup within a day, not much smaller than the one before', severity: 'P2' },
];

/**
 * The runbook's two rounds: the daily startup checklist (every item) and the hourly health
 * check during business hours ("Service Health Monitoring": the services and the key metrics).
 */
export type ChecklistKind = 'checklist' | 'hourly';
export const CHECKLIST_KINDS: ChecklistKind[] = ['checklist', 'hourly'];
export const HOURLY_ITEMS = ['services', 'metrics'];

/** The items a run of this kind checks, in the checklist's order. */
export function itemsOf(kind: ChecklistKind): ChecklistItemDefinition[] {
  return kind === 'hourly' ? CHECKLIST_ITEMS.filter((i) => HOURLY_ITEMS.includes(i.id)) : CHECKLIST_ITEMS;
}

/**
 * Checks whose failure is a situation of their item's level: the row's contacts are called
 * (runbook: "API slow (> 5 s)" and "High error rate" are P2 rows with their own contacts).
 */
export const CHECK_SITUATIONS: Record<string, string> = {
  'metric:api-request': 'api-slow',
  'metric:error-rate': 'high-error-rate',
};

export interface Escalation {
  severity: Severity;
  /** The row of the escalation table, when the failure is one of its situations. */
  situation?: string;
  contacts: string[];
  responseMinutes: number;
}

export interface ChecklistItemResult {
  item: string;
  title: string;
  verdict: Verdict;
  checks: CheckResult[];
  /** For an item that is not a pass: the runbook's next step, and whom to escalate to. */
  nextStep?: string;
  /** For an item that is not a pass: the procedure that addresses its first failing check. */
  remediation?: string;
  escalation?: Escalation;
}
