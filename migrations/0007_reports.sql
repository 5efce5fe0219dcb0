-- Reports: the performance reports generated on request (POST /admin/reports/performance),
-- each stored whole as the JSON document the API returned (CSV and HTML render from it).

CREATE TABLE performance_reports (
  id               uuid PRIMARY KEY,
  start_date       date NOT NULL,
  end_date         date NOT NULL,
  time_zone        varchar(64) NOT NULL,
  -- the section names, in report order
  sections         jsonb NOT NULL,
  generated_at     timestamptz NOT NULL,
  generated_by     varchar(128) NOT NULL,
  duration_ms      integer NOT NULL,
  report           jsonb NOT NULL,
  CONSTRAINT performance_reports_period_check CHECK (start_date <= end_date)
);
CREATE INDEX performance_reports_generated_at_idx ON performance_reports (generated_at, id);
