-- Reports: which kind each stored performance report is: one requested through the API
-- ('performance') or the weekly report to management ('weekly', Friday 17:00 or POST
-- /admin/reports/weekly), so that /metrics can tell the time of the latest of each.

ALTER TABLE performance_reports ADD COLUMN kind varchar(20) NOT NULL DEFAULT 'performance';
ALTER TABLE performance_reports ADD CONSTRAINT performance_reports_kind_check CHECK (kind IN ('performance', 'weekly'));
-- Reports made before this column: a weekly delivery marks a weekly report.
UPDATE performance_reports r SET kind = 'weekly'
 WHERE EXISTS (SELECT 1 FROM report_deliveries d WHERE d.report_id = r.id AND d.kind = 'weekly');
CREATE INDEX performance_reports_kind_generated_at_idx ON performance_reports (kind, generated_at);
