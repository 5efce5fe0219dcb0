-- Incidents and escalation (issue 14). PostgreSQL is the source of truth for every timer:
-- an open incident's next escalation (time, step, round), acknowledgement timeout, status
-- update reminder and auto-resolve time live in its row; queue jobs only wake it up on time.

-- INC-YYYYMMDD-NNN: one counter per day (in the inventory's time zone), shared by replicas.
CREATE TABLE incident_day_counters (
  day   date PRIMARY KEY,
  last  integer NOT NULL
);

CREATE TABLE incidents (
  id                    varchar(24) PRIMARY KEY,
  title                 varchar(500) NOT NULL,
  severity              varchar(2) NOT NULL,
  component             varchar(128),
  status                varchar(16) NOT NULL,
  source                varchar(16) NOT NULL,
  assignee              varchar(128),
  created_by            varchar(128) NOT NULL,
  created_at            timestamptz NOT NULL,
  acknowledged_at       timestamptz,
  acknowledged_by       varchar(128),
  ack_expires_at        timestamptz,
  resolved_at           timestamptz,
  resolved_by           varchar(128),
  resolve_at            timestamptz,
  -- The escalation policy as it was when the incident opened (a later inventory change
  -- does not rewrite a running chain).
  policy                jsonb NOT NULL,
  escalation_round      integer NOT NULL DEFAULT 0,
  escalation_step       integer NOT NULL DEFAULT 0,
  next_escalation_at    timestamptz,
  escalations           integer NOT NULL DEFAULT 0,
  next_status_update_at timestamptz,
  last_status_update_at timestamptz,
  report_due_at         timestamptz,
  report_submitted_at   timestamptz,
  report_reminded_at    timestamptz,
  report                text,
  suggested_procedure   varchar(64),
  suggested_parameters  jsonb,
  plan                  jsonb,
  plan_run_id           uuid,
  first_acknowledged_at timestamptz,
  version               integer NOT NULL DEFAULT 1,
  CONSTRAINT incidents_severity_check CHECK (severity IN ('P1', 'P2', 'P3', 'P4')),
  CONSTRAINT incidents_status_check CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
  CONSTRAINT incidents_source_check CHECK (source IN ('alert', 'manual'))
);
CREATE INDEX incidents_created_at_idx ON incidents (created_at, id);
CREATE INDEX incidents_open_idx ON incidents (status) WHERE status <> 'resolved';
CREATE INDEX incidents_next_escalation_idx ON incidents (next_escalation_at) WHERE next_escalation_at IS NOT NULL;

-- Alertmanager's group keys an incident gathers (a group key changes when routes change,
-- so alerts are matched by fingerprint and startsAt first).
CREATE TABLE incident_alert_groups (
  group_key    text NOT NULL,
  incident_id  varchar(24) NOT NULL REFERENCES incidents (id),
  linked_at    timestamptz NOT NULL,
  PRIMARY KEY (group_key, incident_id)
);
CREATE INDEX incident_alert_groups_incident_idx ON incident_alert_groups (incident_id);

-- One alert occurrence (fingerprint + startsAt) belongs to one incident.
CREATE TABLE incident_alerts (
  fingerprint  varchar(64) NOT NULL,
  starts_at    timestamptz NOT NULL,
  incident_id  varchar(24) NOT NULL REFERENCES incidents (id),
  alertname    varchar(256),
  labels       jsonb NOT NULL,
  annotations  jsonb NOT NULL,
  status       varchar(10) NOT NULL,
  ends_at      timestamptz,
  resolved_at  timestamptz,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (fingerprint, starts_at),
  CONSTRAINT incident_alerts_status_check CHECK (status IN ('firing', 'resolved'))
);
CREATE INDEX incident_alerts_incident_idx ON incident_alerts (incident_id);

-- The timeline.
CREATE TABLE incident_events (
  id           bigserial PRIMARY KEY,
  incident_id  varchar(24) NOT NULL REFERENCES incidents (id),
  at           timestamptz NOT NULL,
  type         varchar(32) NOT NULL,
  actor        varchar(128),
  message      text NOT NULL,
  data         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);

-- The outbox of pages: one row per (incident, what, person, channel), written in the same
-- transaction as the step that asks for it, sent by whichever replica claims it.
CREATE TABLE incident_pages (
  id             uuid PRIMARY KEY,
  incident_id    varchar(24) NOT NULL REFERENCES incidents (id),
  reason         varchar(64) NOT NULL,
  person         varchar(64) NOT NULL,
  channel        varchar(8) NOT NULL,
  target         varchar(320) NOT NULL,
  subject        text NOT NULL,
  body           text NOT NULL,
  ack_link_id    uuid,
  status         varchar(10) NOT NULL,
  attempts       integer NOT NULL DEFAULT 0,
  claimed_until  timestamptz,
  created_at     timestamptz NOT NULL,
  sent_at        timestamptz,
  error          text,
  CONSTRAINT incident_pages_channel_check CHECK (channel IN ('chat', 'email')),
  CONSTRAINT incident_pages_status_check CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
  CONSTRAINT incident_pages_once UNIQUE (incident_id, reason, person, channel)
);
CREATE INDEX incident_pages_pending_idx ON incident_pages (created_at) WHERE status = 'pending';

-- Signed one-click acknowledge links: single use, expire with the response time.
CREATE TABLE incident_ack_links (
  id           uuid PRIMARY KEY,
  incident_id  varchar(24) NOT NULL REFERENCES incidents (id),
  person       varchar(64) NOT NULL,
  username     varchar(128) NOT NULL,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  created_at   timestamptz NOT NULL
);
CREATE INDEX incident_ack_links_incident_idx ON incident_ack_links (incident_id);

-- Runs started from an incident (their request and end go into the timeline).
CREATE TABLE incident_runs (
  run_id       uuid PRIMARY KEY,
  incident_id  varchar(24) NOT NULL REFERENCES incidents (id),
  procedure_id varchar(64) NOT NULL,
  requested_by varchar(128) NOT NULL,
  requested_at timestamptz NOT NULL,
  ended_status varchar(20),
  ended_at     timestamptz
);
CREATE INDEX incident_runs_incident_idx ON incident_runs (incident_id);
CREATE INDEX incident_runs_open_idx ON incident_runs (requested_at) WHERE ended_at IS NULL;
