-- Deliveries of reports by e-mail (the weekly report to management): every attempt recorded,
-- the report kept whether or not the mail went out.

CREATE TABLE report_deliveries (
  id            uuid PRIMARY KEY,
  report_id     uuid NOT NULL REFERENCES performance_reports (id) ON DELETE CASCADE,
  kind          varchar(20) NOT NULL,
  subject       varchar(300) NOT NULL,
  recipients    jsonb NOT NULL,
  attempt       integer NOT NULL,
  delivered     boolean NOT NULL,
  error         text,
  deliveries    jsonb NOT NULL,
  created_at    timestamptz NOT NULL,
  CONSTRAINT report_deliveries_kind_check CHECK (kind IN ('weekly', 'manual'))
);
CREATE INDEX report_deliveries_report_idx ON report_deliveries (report_id, created_at);
