-- Alerts: the notifications Alertmanager's webhook delivered (stored once: Alertmanager
-- retries and repeats them), and the silences the control plane created (alerts.storm).

CREATE TABLE alert_notifications (
  id               uuid PRIMARY KEY,
  -- sha256 of groupKey, status and the sorted "fingerprint:status" of its alerts.
  dedupe_key       char(64) NOT NULL,
  group_key        text NOT NULL,
  status           varchar(10) NOT NULL,
  receiver         varchar(255) NOT NULL,
  group_labels     jsonb NOT NULL,
  common_labels    jsonb NOT NULL,
  external_url     text,
  truncated_alerts integer NOT NULL DEFAULT 0,
  alert_count      integer NOT NULL,
  -- {alertname: count}
  alert_names      jsonb NOT NULL,
  -- [{fingerprint, status, alertname, labels, annotations, startsAt, endsAt, remediation}]
  alerts           jsonb NOT NULL,
  received_by      varchar(128) NOT NULL,
  received_at      timestamptz NOT NULL,
  CONSTRAINT alert_notifications_status_check CHECK (status IN ('firing', 'resolved'))
);
CREATE UNIQUE INDEX alert_notifications_dedupe_key ON alert_notifications (dedupe_key);
CREATE INDEX alert_notifications_received_at_idx ON alert_notifications (received_at, id);

CREATE TABLE alert_silences (
  silence_id       uuid PRIMARY KEY,
  run_id           uuid NOT NULL,
  created_by       varchar(128) NOT NULL,
  matchers         jsonb NOT NULL,
  comment          text NOT NULL,
  starts_at        timestamptz NOT NULL,
  ends_at          timestamptz NOT NULL,
  created_at       timestamptz NOT NULL,
  expired_at       timestamptz,
  expired_by_run   uuid
);
CREATE INDEX alert_silences_run_id_idx ON alert_silences (run_id);
