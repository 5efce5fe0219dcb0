-- Remediations: a run that cannot fix its problem ends "escalated" (with whom to call and
-- what to give them in its steps' output).

ALTER TABLE procedure_runs DROP CONSTRAINT procedure_runs_status_check;
ALTER TABLE procedure_runs ADD CONSTRAINT procedure_runs_status_check
  CHECK (status IN ('queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'cancelled', 'rejected', 'expired', 'interrupted', 'escalated'));
