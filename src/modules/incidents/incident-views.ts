import { IncidentRow } from './incident-store';
import { IncidentDetailModel, IncidentModel } from './incidents.dto';
import { IncidentsService } from './incidents.service';

/** An incident as the API shows it (camelCase; the policy and plan as stored). */
export function toModel(row: IncidentRow): IncidentModel {
  const step = row.policy.steps[row.escalation_step] ?? row.policy.steps[0];
  return {
    id: row.id,
    title: row.title,
    severity: row.severity,
    component: row.component,
    status: row.status,
    source: row.source,
    assignee: row.assignee,
    createdBy: row.created_by,
    createdAt: row.created_at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
    resolvedAt: row.resolved_at,
    resolvedBy: row.resolved_by,
    resolveAt: row.resolve_at,
    escalation: {
      round: row.escalation_round,
      step: row.escalation_step,
      level: step.level,
      nextAt: row.next_escalation_at,
      escalations: row.escalations,
    },
    nextStatusUpdateAt: row.next_status_update_at,
    reportDueAt: row.report_due_at,
    reportSubmittedAt: row.report_submitted_at,
    suggestedProcedure: row.suggested_procedure,
    situation: row.policy.situation?.situation ?? null,
    plan: row.plan,
    policy: row.policy as unknown as Record<string, unknown>,
  };
}

export async function toDetail(incidents: IncidentsService, id: string): Promise<IncidentDetailModel> {
  const { row, groupKeys, alerts, runs, notifications, timeline } = await incidents.snapshot(id);
  return { ...toModel(row), groupKeys, alerts, runs, notifications, timeline, report: row.report };
}
