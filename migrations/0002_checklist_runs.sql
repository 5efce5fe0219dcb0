-- The daily startup checklist's runs, each with every item and check (history).

CREATE TABLE checklist_runs (
  id              uuid PRIMARY KEY,
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz NOT NULL,
  duration_ms     integer NOT NULL,
  deadline_ms     integer NOT NULL,
  checks_duration_ms integer NOT NULL,
  trigger         varchar(20) NOT NULL,
  requested_by    varchar(128),
  scheduled_for   timestamptz,
  verdict         varchar(10) NOT NULL,
  items           jsonb NOT NULL,
  CONSTRAINT checklist_runs_trigger_check CHECK (trigger IN ('manual', 'schedule')),
  CONSTRAINT checklist_runs_verdict_check CHECK (verdict IN ('pass', 'warn', 'unknown', 'fail'))
);
CREATE INDEX checklist_runs_started_at_idx ON checklist_runs (started_at, id);
CREATE UNIQUE INDEX checklist_runs_scheduled_for_key ON checklist_runs (scheduled_for) WHERE scheduled_for IS NOT NULL;
