import { Check, Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { Verdict } from '../../health/public';
import type { ReviewDashboard } from './review-dashboards';

/** One Daily Performance Review: the runbook's five dashboards as one document. */
@Entity({ name: 'daily_reviews' })
@Check('daily_reviews_trigger_check', `trigger IN ('manual', 'schedule')`)
@Check('daily_reviews_verdict_check', `verdict IN ('pass', 'warn', 'unknown', 'fail')`)
@Index('daily_reviews_generated_at_idx', ['generatedAt', 'id'])
@Index('daily_reviews_review_date_idx', ['date', 'generatedAt'])
@Index('daily_reviews_scheduled_for_key', ['scheduledFor'], { unique: true, where: 'scheduled_for IS NOT NULL' })
export class DailyReviewEntity {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  /** The local date (inventory time zone) of the review, YYYY-MM-DD. */
  @Column({ name: 'review_date', type: 'date' }) date: string;
  @Column({ type: 'varchar', length: 64 }) timezone: string;
  @Column({ name: 'window_start', type: 'timestamptz' }) windowStart: Date;
  @Column({ name: 'window_end', type: 'timestamptz' }) windowEnd: Date;
  @Column({ name: 'generated_at', type: 'timestamptz' }) generatedAt: Date;
  @Column({ name: 'duration_ms', type: 'integer' }) durationMs: number;
  @Column({ type: 'varchar', length: 20 }) trigger: 'manual' | 'schedule';
  @Column({ name: 'requested_by', type: 'varchar', length: 128, nullable: true }) requestedBy: string | null;
  /** The schedule's tick this review served (unique: a tick runs once, whatever the replicas). */
  @Column({ name: 'scheduled_for', type: 'timestamptz', nullable: true }) scheduledFor: Date | null;
  @Column({ type: 'varchar', length: 10 }) verdict: Verdict;
  @Column({ type: 'jsonb' }) dashboards: ReviewDashboard[];
}
