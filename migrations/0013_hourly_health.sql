-- The runbook's hourly health check (issue 15): its runs are stored with the checklist's,
-- told apart by kind. A schedule's tick is served once per kind.
ALTER TABLE checklist_runs ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'checklist';
ALTER TABLE checklist_runs ADD CONSTRAINT checklist_runs_kind_check CHECK (kind IN ('checklist', 'hourly'));
DROP INDEX checklist_runs_scheduled_for_key;
CREATE UNIQUE INDEX checklist_runs_scheduled_for_key ON checklist_runs (kind, scheduled_for) WHERE scheduled_for IS NOT NULL;
CREATE INDEX checklist_runs_kind_started_at_idx ON checklist_runs (kind, started_at, id);
