-- Runs of procedures (everything that changes the ERP stack) and their steps.

CREATE TABLE procedure_runs (
  id                   uuid PRIMARY KEY,
  procedure_id         varchar(100) NOT NULL,
  severity             varchar(2) NOT NULL,
  dry_run              boolean NOT NULL,
  status               varchar(30) NOT NULL,
  parameters           jsonb NOT NULL,
  requested_by         varchar(128) NOT NULL,
  requested_role       varchar(20) NOT NULL,
  approved_by          varchar(128),
  decided_at           timestamptz,
  approval_expires_at  timestamptz,
  cancel_requested     boolean NOT NULL DEFAULT false,
  current_step         varchar(100),
  error                text,
  created_at           timestamptz NOT NULL,
  started_at           timestamptz,
  finished_at          timestamptz,
  CONSTRAINT procedure_runs_status_check CHECK (status IN ('queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'cancelled', 'rejected', 'expired', 'interrupted'))
);
CREATE INDEX procedure_runs_created_at_idx ON procedure_runs (created_at, id);
CREATE INDEX procedure_runs_status_idx ON procedure_runs (status);

CREATE TABLE procedure_steps (
  run_id       uuid NOT NULL REFERENCES procedure_runs (id) ON DELETE CASCADE,
  position     integer NOT NULL,
  step_id      varchar(100) NOT NULL,
  title        varchar(200) NOT NULL,
  status       varchar(20) NOT NULL,
  plan         jsonb,
  output       jsonb,
  error        text,
  started_at   timestamptz,
  finished_at  timestamptz,
  CONSTRAINT procedure_steps_pkey PRIMARY KEY (run_id, position),
  CONSTRAINT procedure_steps_status_check CHECK (status IN ('pending', 'planned', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'))
);
