import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { PerformanceReportEntity } from './performance-report.entity';

/** One attempt to mail a report (the weekly report to management, or a manual send). */
@Entity({ name: 'report_deliveries' })
@Check('report_deliveries_kind_check', `kind IN ('weekly', 'manual')`)
@Index('report_deliveries_report_idx', ['reportId', 'createdAt'])
export class ReportDeliveryEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ name: 'report_id', type: 'uuid' }) reportId: string;
  @ManyToOne(() => PerformanceReportEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'report_id', foreignKeyConstraintName: 'report_deliveries_report_id_fkey' })
  report?: PerformanceReportEntity;
  @Column({ type: 'varchar', length: 20 }) kind: 'weekly' | 'manual';
  @Column({ type: 'varchar', length: 300 }) subject: string;
  @Column({ type: 'jsonb' }) recipients: string[];
  @Column({ type: 'integer' }) attempt: number;
  @Column({ type: 'boolean' }) delivered: boolean;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ type: 'jsonb' }) deliveries: Record<string, unknown>[];
  @Column({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
