import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';

export type ReportKind = 'performance' | 'weekly';

/** One generated performance report, stored whole (the JSON document the API returned). */
@Entity({ name: 'performance_reports' })
@Check('performance_reports_period_check', `start_date <= end_date`)
@Check('performance_reports_kind_check', `kind IN ('performance', 'weekly')`)
@Index('performance_reports_generated_at_idx', ['generatedAt', 'id'])
@Index('performance_reports_kind_generated_at_idx', ['kind', 'generatedAt'])
export class PerformanceReportEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  /** performance: requested through the API; weekly: the weekly report to management. */
  @Column({ type: 'varchar', length: 20, default: 'performance' }) kind: ReportKind;
  @Column({ name: 'start_date', type: 'date' }) startDate: string;
  @Column({ name: 'end_date', type: 'date' }) endDate: string;
  @Column({ name: 'time_zone', type: 'varchar', length: 64 }) timeZone: string;
  @Column({ type: 'jsonb' }) sections: string[];
  @Column({ name: 'generated_at', type: 'timestamptz' }) generatedAt: Date;
  @Column({ name: 'generated_by', type: 'varchar', length: 128 }) generatedBy: string;
  @Column({ name: 'duration_ms', type: 'integer' }) durationMs: number;
  @Column({ type: 'jsonb' }) report: Record<string, unknown>;
}
